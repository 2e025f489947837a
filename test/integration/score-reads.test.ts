import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processScore } from '../../jobs/score.js';
import type { EngagementEvent } from '../../src/domain/index.js';
import { FakeConnector } from '../helpers/fake-connector.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { uniquePrefix } from '../helpers/redis.js';
import { startRedisServer, type OwnRedis } from '../sandbox/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const NOW = Date.UTC(2026, 10, 2, 12);
const DAY = 86_400_000;

// Its own redis-server: MONITOR sees every client's commands, and would slow the shared one.
describe('a score job and its lead’s key', () => {
  const prefix = uniquePrefix('score-reads');
  let server: OwnRedis;
  let redis: Redis;
  let monitor: Redis;
  let pipeline: Pipeline;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    monitor = await redis.monitor();
    pipeline = await startPipeline({
      redis,
      config: testConfig(prefix),
      connector: new FakeConnector(),
      now: () => NOW,
      workers: false,
    });
  }, 30_000);
  afterAll(async () => {
    monitor.disconnect();
    await pipeline.close();
    redis.disconnect();
    await server.stop();
  });

  /** The commands that name `key` while `run` runs, a script's own prefixed `lua ` (MONITOR shows both). */
  async function commandsOn(key: string, run: () => Promise<unknown>): Promise<string[]> {
    const seen: string[] = [];
    const marker = `${prefix}:done:${Math.random()}`;
    const listener = (_: number, args: string[], source: string) => {
      if (args.includes(key)) seen.push(`${source === 'lua' ? 'lua ' : ''}${args[0]!.toLowerCase()}`);
      if (args.includes(marker)) done = true;
    };
    let done = false;
    monitor.on('monitor', listener);
    try {
      await run();
      // MONITOR's feed lags the commands: this marker comes after every one of them.
      await redis.exists(marker);
      await waitFor(() => done, { timeoutMs: 5_000, what: 'the monitor feed' });
    } finally {
      monitor.off('monitor', listener);
    }
    return seen;
  }

  it('reads it once and rewrites it once when nothing is past the timeline’s window', async () => {
    const { ctx } = pipeline;
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '31' };
    const events: EngagementEvent[] = [1, 2, 3].map((n) => ({
      id: `hubspot:e${n}`,
      lead,
      type: 'page_view',
      occurredAt: NOW - n * DAY,
      source: 'hubspot',
      properties: { url: 'https://x.example/docs' },
    }));
    for (const e of events) await ctx.timeline.recordEvent(e, NOW);
    // The first score job reads the profile from the CRM; the next ones are what is counted.
    await processScore(ctx, { lead });
    const key = ctx.keys.leadState(lead);
    const seen = await commandsOn(key, () => processScore(ctx, { lead }));
    // One read (the rewrite script's own GET checks the generation) and one rewrite: the put.
    expect(seen.filter((c) => c === 'get')).toEqual(['get']);
    expect(seen.filter((c) => c === 'lua set')).toEqual(['lua set']);
    expect((await ctx.timeline.events(lead, 0)).map((x) => x.e.id)).toEqual([
      'hubspot:e3',
      'hubspot:e2',
      'hubspot:e1',
    ]);
  });
});
