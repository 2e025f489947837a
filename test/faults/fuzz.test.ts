import type { Server } from 'node:http';
import { Agent, request } from 'node:http';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signV3 } from '../../connectors/hubspot/signature.js';
import { loadConfig } from '../../src/config/load.js';
import { createApp } from '../../src/http/app.js';
import { signGeneric } from '../../src/receive/generic.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { connectRedis } from '../../src/store/redis.js';
import { TEST_REDIS_URL, cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const SECRET = 'fuzz-client-secret';
const EVENTS_SECRET = 'fuzz-events-secret-0123';
const COUNT = 10_000;

/** Deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deep nesting, built as text: JSON.stringify itself would overflow the stack. */
function nested(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

/** One hostile request: a payload generator and how it is signed. */
function hostile(
  rand: () => number,
  i: number,
): { path: string; body: Buffer; sign: 'good' | 'bad' | 'none' } {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const kind = i % 8;
  const junk = (): unknown =>
    pick<unknown>([
      null,
      true,
      -1,
      1e308,
      'x'.repeat(Math.floor(rand() * 50)),
      {},
      [],
      { eventId: 'abc' },
      [{ objectId: {} }],
    ]);
  let body: Buffer;
  switch (kind) {
    case 0: // random bytes
      body = Buffer.from(Array.from({ length: Math.floor(rand() * 512) }, () => Math.floor(rand() * 256)));
      break;
    case 1: // right shape, wrong types
      body = Buffer.from(
        JSON.stringify([
          {
            eventId: junk(),
            objectId: junk(),
            portalId: junk(),
            occurredAt: junk(),
            subscriptionType: junk(),
          },
        ]),
      );
      break;
    case 2: // huge array (over 100 events) or over the body limit
      body = Buffer.from(
        JSON.stringify(Array.from({ length: 101 + Math.floor(rand() * 2000) }, (_, n) => ({ eventId: n }))),
      );
      break;
    case 3: // deep nesting
      body = Buffer.from(nested(1000 + Math.floor(rand() * 50_000)));
      break;
    case 4: // prototype pollution attempts and odd keys
      body = Buffer.from('[{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"eventId":1}]');
      break;
    case 5: // generic endpoint junk
      body = Buffer.from(
        JSON.stringify({ events: [{ id: junk(), lead: junk(), type: junk(), occurredAt: junk() }] }),
      );
      break;
    case 6: // a valid-looking batch with one bad field
      body = Buffer.from(
        JSON.stringify([
          {
            eventId: 1,
            portalId: 1,
            objectId: 1,
            occurredAt: -5,
            subscriptionType: 'contact.propertyChange',
          },
        ]),
      );
      break;
    default: // empty or whitespace
      body = Buffer.from(pick(['', ' ', '\n', 'null', '{}', '[]']));
  }
  return {
    path: kind === 5 ? '/webhooks/events' : '/webhooks/hubspot',
    body,
    sign: pick(['good', 'good', 'bad', 'none'] as const),
  };
}

describe('faults: 10,000 hostile webhook payloads', () => {
  const prefix = uniquePrefix('fuzz');
  let admin: Redis;
  let producer: Redis;
  let queues: Queues;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    admin = testRedis();
    producer = connectRedis(TEST_REDIS_URL, { failFast: true });
    await new Promise((resolve) => producer.once('ready', resolve));
    queues = openQueues(producer, prefix, () => undefined);
    const base = loadConfig('config/default.yaml');
    const app = createApp({
      config: {
        ...base,
        redis: { ...base.redis, prefix },
        webhooks: { ...base.webhooks, maxBodyBytes: 64 * 1024 },
      },
      hubspotClientSecret: SECRET,
      eventsSigningSecret: EVENTS_SECRET,
      queues,
      redis: producer,
      logger: createLogger('silent'),
      metrics: createMetrics(),
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    server.close();
    await closeQueues(queues);
    await cleanPrefix(admin, prefix);
    producer.disconnect();
    admin.disconnect();
  });

  it('answers every one with a 4xx, never crashes, enqueues nothing', async () => {
    const rand = prng(20261124);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const statuses = new Map<number, number>();
    const send = (i: number) => {
      const h = hostile(rand, i);
      const url = `http://127.0.0.1:${port}${h.path}`;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (h.sign !== 'none') {
        const secret = h.sign === 'good' ? SECRET : 'wrong';
        Object.assign(
          headers,
          h.path === '/webhooks/events'
            ? signGeneric(h.body, h.sign === 'good' ? EVENTS_SECRET : 'wrong-secret-0123456', Date.now())
            : signV3('POST', url, h.body, secret, Date.now()),
        );
      }
      return new Promise<number>((resolve, reject) => {
        const req = request(url, { method: 'POST', headers, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(h.body);
      });
    };
    for (let i = 0; i < COUNT; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, COUNT - i) }, (_, j) => send(i + j)));
      for (const status of batch) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    agent.destroy();

    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(COUNT);
    for (const status of statuses.keys()) expect([400, 401, 413]).toContain(status);
    expect(await queues.ingest.count()).toBe(0);
    // The server still serves.
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 120_000);
});
