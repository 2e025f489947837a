import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCRIPT_FILES, SCRIPTS, withScripts, type ScriptName } from '../../src/store/scripts.js';
import { testRedis } from '../helpers/redis.js';

const LUA_DIR = new URL('../../src/store/lua/', import.meta.url);
const names = Object.keys(SCRIPTS) as ScriptName[];

function luaFiles(dir: URL): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -'.lua'.length))
    .sort();
}

describe('Lua script registry', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('registers every .lua file, and every registered file exists', () => {
    const registered = Object.values(SCRIPT_FILES)
      .map((s) => s.file)
      .sort();
    expect(registered).toEqual(luaFiles(LUA_DIR));
    expect(new Set(registered).size).toBe(registered.length);
  });

  it('expands every include, and every include file is used', () => {
    for (const name of names) expect(SCRIPTS[name].lua, name).not.toMatch(/@include/);
    const used = new Set(
      Object.values(SCRIPT_FILES).flatMap((s) =>
        [...readLua(s.file).matchAll(/^-- @include ([\w-]+)$/gm)].map((m) => m[1]),
      ),
    );
    expect([...used].sort()).toEqual(luaFiles(new URL('includes/', LUA_DIR)));
  });

  it('declares as many keys as each fixed-key script reads', () => {
    for (const name of names) {
      const { lua, numberOfKeys } = SCRIPTS[name];
      const indexes = [...lua.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      // A script with a variable key count (the caller passes it) computes its key indexes.
      if (numberOfKeys === undefined) expect(lua, name).toMatch(/KEYS\[(?!\d+\])/);
      else expect(Math.max(...indexes), name).toBe(numberOfKeys);
    }
  });

  it('every script compiles in the real Redis (SCRIPT LOAD), and a syntax error would be caught', async () => {
    for (const name of names)
      await expect(redis.script('LOAD', SCRIPTS[name].lua), name).resolves.toMatch(/^[0-9a-f]{40}$/);
    // The same check on a script with one `end` too many fails: a broken file cannot pass it.
    await expect(redis.script('LOAD', `${SCRIPTS.leadflowWriteLead.lua}\nend`)).rejects.toThrow(
      /compiling script/i,
    );
  });

  it('defines every script as a command on a connection', () => {
    const scripted = withScripts(redis);
    expect(withScripts(redis)).toBe(scripted);
    for (const name of names) expect(typeof scripted[name], name).toBe('function');
  });
});

function readLua(file: string): string {
  return readFileSync(new URL(`${file}.lua`, LUA_DIR), 'utf8');
}
