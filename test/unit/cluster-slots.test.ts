import { QueueKeys } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { LeadRef } from '../../src/domain/index.js';
import { QUEUES } from '../../src/queue/catalog.js';
import { keys } from '../../src/store/keys.js';
import { SCRIPTS, type ScriptName } from '../../src/store/scripts.js';

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The key's slot as Redis Cluster computes it: only a non-empty first `{…}` is hashed, when there is one. */
function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  return crc16(Buffer.from(hashed, 'utf8')) % 16384;
}

const PREFIX = '{leadflow}';
const SLOT = keySlot(PREFIX);
/** Arguments with braces of their own: they must not move a key to another slot. */
const LEAD: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '{7}' };
const TEXT = '}{other}';

/** Multi-key scripts and BullMQ's are legal on a cluster only if all their keys share one slot. */
describe('Redis Cluster: every key in the one slot of the prefix', () => {
  it('computes slots as Redis does (CLUSTER KEYSLOT on Redis 7)', () => {
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('foo{hash_tag}')).toBe(2515);
    expect(keySlot('{}x')).toBe(10595);
    expect(SLOT).toBe(6645);
  });

  it('puts every key builder under the slot, whatever its argument', () => {
    const built = Object.entries(keys(PREFIX)).flatMap(([name, builder]) => {
      if (typeof builder === 'string') return [[name, builder] as const];
      const build = builder as (arg: unknown) => string;
      return [[name, build(LEAD)] as const, [name, build(TEXT)] as const];
    });
    expect(built.length).toBeGreaterThan(20);
    for (const [name, key] of built) expect(keySlot(key), `${name}: ${key}`).toBe(SLOT);
  });

  it('puts every BullMQ key of every queue under the slot (its prefix comes first)', () => {
    const queueKeys = new QueueKeys(PREFIX);
    for (const { name } of Object.values(QUEUES)) {
      const all = [...Object.values(queueKeys.getKeys(name)), queueKeys.toKey(name, `de:${TEXT}`)];
      for (const key of all) expect(keySlot(key), key).toBe(SLOT);
    }
  });

  it('lets every Lua script touch only keys it was given (KEYS), so the client routes it to their slot', () => {
    const keyless = new Set(['TIME']);
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      const { lua } = SCRIPTS[name];
      const calls = [...lua.matchAll(/redis\.p?call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?/g)];
      expect(calls.length, name).toBeGreaterThan(0);
      for (const [call, command, key] of calls) {
        if (keyless.has(command!.toUpperCase())) continue;
        const fromKeys =
          /^KEYS\[[^\]]+\]$/.test(key!.trim()) ||
          new RegExp(`local ${key!.trim()} = KEYS\\[[^\\]]+\\]`).test(lua) ||
          keyParameterFromKeys(lua, key!.trim());
        expect(fromKeys, `${name}: ${call}`).toBe(true);
      }
    }
  });
});

/**
 * A key that is a parameter of a local function (an include's helper) counts as given when every
 * call of that function passes a KEYS entry in that place (an included helper the script never calls
 * touches nothing).
 */
function keyParameterFromKeys(lua: string, param: string): boolean {
  return [...lua.matchAll(/local function (\w+)\(([^)]*)\)/g)].some(([, fn, params]) => {
    const at = params!
      .split(',')
      .map((p) => p.trim())
      .indexOf(param);
    if (at < 0) return false;
    const calls = [...lua.matchAll(new RegExp(`(?<!function )\\b${fn}\\(([^)]*)\\)`, 'g'))];
    return calls.every(([, args]) => /^KEYS\[[^\]]+\]$/.test(args!.split(',')[at]?.trim() ?? ''));
  });
}
