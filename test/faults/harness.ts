import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { signV3 } from '../../connectors/hubspot/signature.js';
import { run, type Running } from '../../src/cli/run.js';
import { parseEnv } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/logger.js';
import { deleteByPrefix } from '../../src/store/redis.js';
import { uniquePrefix } from '../helpers/redis.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { freePort } from '../sandbox/redis-server.js';

export const SECRET = 'fault-client-secret';

/** Known leads with a profile and a stage, so a demo request is one handoff each. */
export function leads(n: number, from = 1): { id: string; properties: Record<string, string> }[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(from + i),
    properties: {
      firstname: `F${from + i}`,
      jobtitle: 'VP Marketing',
      lifecyclestage: 'lead',
      country: 'Canada',
    },
  }));
}

let eventSeq = 1;
export function demoRequest(objectId: string) {
  return {
    eventId: eventSeq++,
    portalId: 7,
    objectId: Number(objectId),
    occurredAt: Date.now(),
    subscriptionType: 'contact.propertyChange',
    propertyName: 'recent_conversion_event_name',
    propertyValue: 'Request a demo',
  };
}

/**
 * Delivers like HubSpot: a request that is not answered 2xx is sent again later (HubSpot retries
 * for 24 h), so a 503 while Redis is away loses nothing. Returns how many attempts were refused.
 */
export async function deliver(url: string, events: object[], timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let refused = 0;
  for (;;) {
    const status = await post(url, events);
    if (status === 200) return refused;
    refused++;
    if (Date.now() > deadline) throw new Error(`delivery never accepted (last status ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** One signed delivery, sent once: the HTTP status, or 0 when no answer came. */
export async function post(url: string, events: object[]): Promise<number> {
  const body = JSON.stringify(events);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signV3('POST', url, body, SECRET, Date.now()) },
    body,
    signal: AbortSignal.timeout(5_000),
  }).then(
    async (res) => {
      await res.arrayBuffer();
      return res.status;
    },
    () => 0,
  );
}

/** The shipped config under a private prefix, with the knobs a fault test needs. */
export function faultConfig(
  prefix: string,
  hubspot: Partial<Config['hubspot']> = {},
  pipeline: Partial<Config['pipeline']> = {},
): Config {
  const base = loadConfig('config/default.yaml');
  return {
    ...base,
    redis: { prefix },
    hubspot: { ...base.hubspot, requestsPer10s: 10_000, timeoutMs: 1_000, ...hubspot },
    pipeline: { ...base.pipeline, jobLockMs: 2_000, ...pipeline },
  };
}

/** How many notes (or tasks) each lead has in the sandbox CRM. */
export function notesPerLead(sandbox: Sandbox, kind: 'notes' | 'tasks' = 'notes'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const object of sandbox.hubspot[kind]) {
    const id = object.associations[0]?.to.id ?? '?';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Every lead ends with exactly one note and one rep task: nothing lost, nothing written twice. */
export async function expectOneNoteAndTaskEach(sandbox: Sandbox, ids: string[]): Promise<void> {
  await waitFor(() => notesPerLead(sandbox, 'tasks').size === ids.length, {
    what: 'every task',
    timeoutMs: 30_000,
  });
  // Late duplicates would show up now.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const kind of ['notes', 'tasks'] as const) {
    const counts = notesPerLead(sandbox, kind);
    expect([...counts.keys()].sort(), kind).toEqual([...ids].sort());
    expect(
      [...counts.values()].every((n) => n === 1),
      kind,
    ).toBe(true);
  }
}

export interface InProcess {
  sandbox: Sandbox;
  running: Running;
  url: string;
  redis: Redis;
  prefix: string;
  stop(): Promise<void>;
}

/** Server and workers in this process, on real Redis, against a fresh sandbox. */
export async function inProcess(
  redisUrl: string,
  opts: {
    latencyMs?: number;
    hubspot?: Partial<Config['hubspot']>;
    pipeline?: Partial<Config['pipeline']>;
  } = {},
): Promise<InProcess> {
  const sandbox = await startSandbox({ latencyMs: opts.latencyMs ?? 10 });
  const prefix = uniquePrefix('faults');
  const port = await freePort();
  const env = parseEnv({
    REDIS_URL: redisUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    HUBSPOT_ACCESS_TOKEN: 'fault-token',
    HUBSPOT_CLIENT_SECRET: SECRET,
    HUBSPOT_BASE_URL: sandbox.url,
  });
  const running = await run(env, faultConfig(prefix, opts.hubspot, opts.pipeline), {
    http: true,
    worker: true,
    logger: createLogger('silent'),
  });
  const redis = new Redis(redisUrl);
  return {
    sandbox,
    running,
    url: `http://127.0.0.1:${port}/webhooks/hubspot`,
    redis,
    prefix,
    async stop() {
      await running.stop();
      await sandbox.close();
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

/** A `leadflow` process (server or worker) of its own, for crash and signal tests. */
export class LeadflowProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    private readonly role: 'start' | 'worker',
    private readonly env: Record<string, string>,
    private readonly configPath: string,
  ) {}

  static writeConfig(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'leadflow-faults-'));
    const path = join(dir, 'config.yaml');
    const text = readFileSync('config/default.yaml', 'utf8')
      .replace("prefix: '{leadflow}'", `prefix: '${prefix}'`)
      .replace('jobLockMs: 30000', 'jobLockMs: 2000')
      .replace('timeoutMs: 10000', 'timeoutMs: 2000')
      .replace('requestsPer10s: 100', 'requestsPer10s: 10000');
    writeFileSync(path, text);
    return path;
  }

  async start(): Promise<void> {
    this.output = '';
    const child = spawnCli(['--config', this.configPath, this.role], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    const ready = this.role === 'start' ? 'http server listening' : 'workers started';
    await waitFor(() => this.output.includes(ready), { what: `${this.role} to start`, timeoutMs: 20_000 });
  }

  /** Sends the signal and resolves with the exit code (null when killed by the signal). */
  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }
}
