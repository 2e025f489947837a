import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { backfill } from '../../src/cli/backfill.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { keys } from '../../src/store/keys.js';
import { TimelineStore } from '../../src/store/timeline.js';
import { LeadState } from '../../src/domain/index.js';
import { LeadStore } from '../../src/store/leads.js';
import { TEST_REDIS_URL, cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { spawnCli } from '../helpers/spawn-cli.js';
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

  it('dry run: counts the records and the leads it would hand off now, and changes nothing', async () => {
    const connector = createHubSpotConnector({
      accessToken: 'pat',
      basePath: sandbox.url,
      fields: config.hubspot.fields,
    });
    const k = keys(prefix);
    // Lead 7 asked for a demo (a hand-raise); lead 8 did too, but was handed off already.
    const timeline = new TimelineStore(redis, k, { dedupeMs: 60_000, leadMs: 86_400_000 });
    for (const id of ['7', '8'])
      await timeline.recordEvent(
        {
          id: `demo-${id}`,
          lead: { crm: 'hubspot', objectType: 'contact', id },
          type: 'demo_request',
          occurredAt: Date.now() - 60_000,
          source: 't',
          properties: {},
        },
        Date.now(),
      );
    await new LeadStore(redis, k).put(
      { crm: 'hubspot', objectType: 'contact', id: '8' },
      LeadState.parse({ stage: 'mql', handledHandRaises: ['demo-8'] }),
    );
    const seen: { done: number; total?: number }[] = [];
    const dry = await backfill({
      connector,
      redis,
      queues,
      config,
      dryRun: true,
      progress: ({ done, total }) => seen.push({ done, total }),
    });
    expect(dry).toEqual({ processed: 250, finished: true, resumedFrom: undefined, wouldHandOff: 1 });
    expect(seen).toEqual([
      { done: 100, total: 250 },
      { done: 200, total: 250 },
      { done: 250, total: 250 },
    ]);
    expect(await queues.score.getDelayedCount()).toBe(0);
    expect(await redis.exists(k.backfill('hubspot'))).toBe(0);
    expect(await timeline.profile({ crm: 'hubspot', objectType: 'contact', id: '1' })).toEqual({
      profile: {},
      fetched: false,
    });
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
      progress: ({ done }) => seen.push(done),
    });
    expect(first).toEqual({ processed: 120, finished: false, resumedFrom: undefined });
    expect(seen).toEqual([100, 120]);
    expect(await queues.score.getDelayedCount()).toBe(120);

    const second = await backfill({ connector, redis, queues, config });
    expect(second).toEqual({ processed: 250, finished: true, resumedFrom: '120' });
    expect(await queues.score.getDelayedCount()).toBe(250);
    // Finished is remembered: running it again does nothing until --restart.
    const third = await backfill({ connector, redis, queues, config });
    expect(third).toMatchObject({ processed: 250, finished: true });
    expect(third.alreadyFinishedAt).toBeGreaterThan(0);
    expect(await queues.score.getDelayedCount()).toBe(250);

    const timeline = new TimelineStore(redis, keys(prefix), { dedupeMs: 60_000, leadMs: 86_400_000 });
    const held = await timeline.profile({ crm: 'hubspot', objectType: 'contact', id: '250' });
    expect(held).toEqual({ profile: { jobTitle: 'Title 250', country: 'Canada' }, fetched: true });
    // Four pages in all: 100 + 20 (the limit), then 100 + 30, after the dry run's three.
    expect(sandbox.calls.filter((c) => c.path === '/crm/v3/objects/contacts')).toHaveLength(7);
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

describe('leadflow backfill on the command line', () => {
  const prefix = uniquePrefix('backfill-cli');
  let redis: Redis;
  let sandbox: Sandbox;
  let configPath: string;

  beforeAll(async () => {
    redis = testRedis();
    sandbox = await startSandbox();
    sandbox.seedContacts(Array.from({ length: 250 }, (_, i) => ({ id: String(i + 1), properties: {} })));
    configPath = join(mkdtempSync(join(tmpdir(), 'leadflow-backfill-')), 'config.yaml');
    writeFileSync(
      configPath,
      readFileSync('config/default.yaml', 'utf8').replace("prefix: '{leadflow}'", `prefix: '${prefix}'`),
    );
  });
  afterAll(async () => {
    await sandbox.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  const env = () => ({
    PATH: process.env.PATH,
    REDIS_URL: TEST_REDIS_URL,
    HUBSPOT_ACCESS_TOKEN: 'pat',
    HUBSPOT_BASE_URL: sandbox.url,
  });
  /** The CLI as a child (the sandbox answers from this process), optionally on a pseudo-terminal. */
  const run = (args: string[], tty = false) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const argv = ['--config', configPath, ...args];
      const child = tty
        ? spawn(
            'script',
            [
              '-qec',
              [process.execPath, '--import', 'tsx', 'src/cli/main.ts', ...argv].join(' '),
              '/dev/null',
            ],
            { env: { ...env(), COLUMNS: '160' } },
          )
        : spawnCli(argv, { env: env() });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('prints N of M with the time left, a bar on a terminal, and says when it has finished already', async () => {
    const dry = await run(['backfill', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      'dry run: 250 hubspot records; 0 would be handed off to reps now; nothing was changed\n',
    );
    // Not a terminal: one plain line per page.
    expect(dry.stderr).toMatch(
      /^backfill: 100 of 250 records read \([\d,]+\/s, \d+ s left\)\nbackfill: 200 of 250 records read .*\nbackfill: 250 of 250 records read \([\d,]+\/s, 0 s left\)\n$/,
    );

    const bar = await run(['backfill'], true);
    expect(bar.code).toBe(0);
    // cli-progress draws on the terminal: the bar, N of M, the rate and the time left.
    expect(bar.stdout).toMatch(
      /backfill: [\u2588\u2591]{40} 250 of 250 records queued \([\d,]+\/s, \d+s left\)/,
    );
    expect(bar.stdout).toContain('backfill finished: 250 records queued for scoring');

    const again = await run(['backfill']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /^backfill already finished \d{4}-\d\d-\d\dT[\d:.]+Z \(250 records\); use --restart to run it again\n$/,
    );
    expect((await run(['backfill', '--restart', '--limit', '10'])).stdout).toBe(
      'backfill paused after 10 records; run it again to go on\n',
    );
  }, 120_000); // five CLI runs, each a fresh tsx process: seconds apiece on a loaded machine
});
