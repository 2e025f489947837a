import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { backfill } from '../../src/cli/backfill.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { keys } from '../../src/store/keys.js';
import { TimelineStore } from '../../src/store/timeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

describe('backfill through the real HubSpot client', () => {
  const prefix = uniquePrefix('backfill');
  let redis: Redis;
  let queues: Queues;
  let sandbox: Sandbox;
  let config: Config;

  beforeAll(async () => {
    redis = testRedis();
    queues = openQueues(redis, prefix, (err) => {
      throw err;
    });
    sandbox = await startSandbox();
    sandbox.seedContacts(
      Array.from({ length: 250 }, (_, i) => ({
        id: String(i + 1),
        properties: { jobtitle: `Title ${i + 1}`, country: 'Canada' },
      })),
    );
    const base = loadConfig('config/default.yaml');
    config = { ...base, redis: { ...base.redis, prefix } };
  });
  afterAll(async () => {
    await closeQueues(queues);
    await sandbox.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('pages through contacts, stops at the limit, resumes where it stopped', async () => {
    const connector = createHubSpotConnector({
      accessToken: 'pat',
      basePath: sandbox.url,
      fields: config.hubspot.fields,
    });
    const seen: number[] = [];
    const first = await backfill({
      connector,
      redis,
      queues,
      config,
      limit: 120,
      progress: (done) => seen.push(done),
    });
    expect(first).toEqual({ processed: 120, finished: false, resumedFrom: undefined });
    expect(seen).toEqual([100, 120]);
    expect(await queues.score.getDelayedCount()).toBe(120);

    const second = await backfill({ connector, redis, queues, config });
    expect(second).toEqual({ processed: 250, finished: true, resumedFrom: '120' });
    expect(await queues.score.getDelayedCount()).toBe(250);
    expect(await redis.exists(keys(prefix).backfill('hubspot'))).toBe(0);

    const timeline = new TimelineStore(redis, keys(prefix), { dedupeMs: 60_000, leadMs: 86_400_000 });
    const held = await timeline.profile({ crm: 'hubspot', objectType: 'contact', id: '250' });
    expect(held).toEqual({ profile: { jobTitle: 'Title 250', country: 'Canada' }, fetched: true });
    // Four pages in all: 100 + 20 (the limit), then 100 + 30.
    expect(sandbox.calls.filter((c) => c.path === '/crm/v3/objects/contacts')).toHaveLength(4);
  });

  it('starts over with restart', async () => {
    const connector = createHubSpotConnector({
      accessToken: 'pat',
      basePath: sandbox.url,
      fields: config.hubspot.fields,
    });
    await backfill({ connector, redis, queues, config, limit: 10 });
    const again = await backfill({ connector, redis, queues, config, restart: true, limit: 10 });
    expect(again).toEqual({ processed: 10, finished: false, resumedFrom: undefined });
  });
});
