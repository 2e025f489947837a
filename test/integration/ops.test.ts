import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { keys } from '../../src/store/keys.js';
import { LeadState } from '../../src/domain/index.js';
import { LeadStore } from '../../src/store/leads.js';
import { TimelineStore } from '../../src/store/timeline.js';
import { failWritebacks } from '../helpers/admin-fixture.js';
import { TEST_REDIS_URL, cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { spawnCliSync } from '../helpers/spawn-cli.js';

/** `leadflow dlq …` and `leadflow explain` as an operator runs them, against real Redis. */
describe('operator commands', () => {
  const prefix = uniquePrefix('ops');
  let redis: Redis;
  let queues: Queues;
  let configPath: string;

  const cli = (...args: string[]) => {
    const r = spawnCliSync(['--config', configPath, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, REDIS_URL: TEST_REDIS_URL },
      timeout: 30_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  beforeAll(async () => {
    redis = testRedis();
    queues = openQueues(redis, prefix, (err) => {
      throw err;
    });
    configPath = join(mkdtempSync(join(tmpdir(), 'leadflow-ops-')), 'config.yaml');
    writeFileSync(
      configPath,
      readFileSync('config/default.yaml', 'utf8').replace("prefix: '{leadflow}'", `prefix: '${prefix}'`),
    );

    // One writeback job that fails for good, like a 400 from the CRM.
    await failWritebacks(
      redis,
      queues,
      prefix,
      ['hf.x'],
      'hubspot 400 VALIDATION_ERROR: Property "x" does not exist',
    );

    const config = loadConfig(configPath);
    const k = keys(prefix);
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '77' };
    const timeline = new TimelineStore(redis, k, { dedupeMs: 60_000, leadMs: 86_400_000 });
    await timeline.mergeFetchedProfile(lead, { jobTitle: 'VP Sales', country: 'Canada' }, Date.now());
    await timeline.recordEvent(
      {
        id: 'e1',
        lead,
        type: 'page_view',
        occurredAt: Date.now() - 60_000,
        source: 't',
        properties: { url: '/pricing' },
      },
      Date.now(),
    );
    await new LeadStore(redis, k).put(lead, LeadState.parse({}));
    expect(config.redis.prefix).toBe(prefix);
  });

  afterAll(async () => {
    await closeQueues(queues);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('lists dead letters with their reason', () => {
    const r = cli('dlq', 'list');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^queue\s+job id\s+attempts\s+failed at \(UTC\)\s+reason\n/);
    expect(r.out).toMatch(
      /writeback\s+hf\.x\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+hubspot 400 VALIDATION_ERROR: Property "x" does not exist/,
    );
    const json = JSON.parse(cli('dlq', 'list', '--json').out) as { id: string; queue: string }[];
    expect(json).toMatchObject([{ id: 'hf.x', queue: 'writeback' }]);
  });

  it('rejects an unknown queue name', () => {
    const r = cli('dlq', 'list', '--queue', 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Invalid option/);
  });

  it('replays a dead letter in place, then purges', async () => {
    expect(cli('dlq', 'replay', '--id', 'hf.x').out).toBe('replayed 1 job(s)\n');
    expect(await queues.writeback.getFailedCount()).toBe(0);
    expect(await queues.writeback.getJobState('hf.x')).toBe('waiting');
    expect(cli('dlq', 'replay', '--id', 'hf.x').out).toBe('replayed 0 job(s)\n');

    // The replayed job fails again, next to a new one: both are purged.
    await failWritebacks(redis, queues, prefix, ['hf.y'], 'bad', 2);
    const purged = cli('dlq', 'purge', '--queue', 'writeback');
    expect(purged.out).toBe('purged 2 job(s)\n');
    expect(await queues.writeback.getFailedCount()).toBe(0);
  });

  it('prints no terminal control sequences from lead or CRM text, in a table or not', async () => {
    const reason = 'CRM said \x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\r\nnext\tline';
    await failWritebacks(redis, queues, prefix, ['hf.esc'], reason);
    const r = cli('dlq', 'list');
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/(?!\n)[\p{Cc}\u202a-\u202e]/u);
    expect(r.out).toMatch(
      /writeback\s+hf\.esc\s+1\s+[\d-]+ [\d:]+\s+CRM said \]0;pwned\[2J31mevil next line\n/,
    );
    // --json keeps the reason as stored, escaped by JSON.
    expect(
      (JSON.parse(cli('dlq', 'list', '--json').out) as { failedReason: string }[])[0]?.failedReason,
    ).toBe(reason);
    expect(cli('dlq', 'purge', '--id', 'hf.esc').out).toBe('purged 1 job(s)\n');
  });

  it('explains a lead from its timeline and profile', () => {
    const r = cli('explain', 'hubspot.contact.77');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Lead hubspot.contact.77: score 34/100 (fit 25, engagement 9), stage LEAD');
    expect(r.out).toMatch(/fit\s+title-decision-maker\s+\+20\s+Job title "VP Sales" matches/);
    expect(r.out).toMatch(/engagement\s+pricing-page\s+\+8\s+1× page_view/);
  });
});
