import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { keys } from '../../src/store/keys.js';
import { LeadState } from '../../src/domain/index.js';
import { HandoffStore } from '../../src/store/handoffs.js';
import { LeadStore } from '../../src/store/leads.js';
import { TimelineStore } from '../../src/store/timeline.js';
import { failWritebacks } from '../helpers/admin-fixture.js';
import { TEST_REDIS_URL, cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { testScore } from '../helpers/score.js';
import { spawnCliSync } from '../helpers/spawn-cli.js';

/** `leadflow dlq …` and `leadflow explain` as an operator runs them, against real Redis. */
describe('operator commands', () => {
  const prefix = uniquePrefix('ops');
  let redis: Redis;
  let queues: Queues;
  let configPath: string;

  const cli = (...args: string[]) => answering('', ...args);
  /** The CLI with `input` on its stdin, as an operator answering its question. */
  const answering = (input: string, ...args: string[]) => {
    const r = spawnCliSync(['--config', configPath, ...args], {
      input,
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

    // Lead 78 was handed off: routing passed a rep over, a breach reassigned it, nobody acted yet.
    const handed = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '78' };
    const handoffId = 'hf.hubspot.contact.78.0.mql';
    const decidedAt = Date.now() - 3 * 3_600_000;
    const handoffs = new HandoffStore(redis, k);
    await handoffs.save({
      handoff: {
        id: handoffId,
        lead: handed,
        stage: 'mql',
        trigger: 'hand_raise',
        triggerEventId: 'e2',
        receivedAt: decidedAt,
        decidedAt,
        score: testScore(60, decidedAt),
      },
      note: { subject: 's', text: 't', html: 'h' },
      routing: {
        ownerId: '101',
        ruleId: 'round-robin-all',
        strategy: 'round_robin',
        reason: 'next in the round robin',
        skipped: [{ repId: '102', ruleId: 'round-robin-all', why: 'at_capacity' }],
      },
      task: {
        subject: 'Call',
        body: 'b',
        dueAt: decidedAt + 15 * 60_000,
        ownerId: '101',
        priority: 'HIGH',
        type: 'CALL',
      },
    });
    await handoffs.mark(handoffId, 'breach.0', String(decidedAt + 16 * 60_000));
    await handoffs.mark(handoffId, 'ownerId', '103');
    await handoffs.mark(handoffId, 'due.1', String(decidedAt + 60 * 60_000));
    await new LeadStore(redis, k).put(handed, LeadState.parse({ stage: 'mql', handoffId }));
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
    // One line, commander's, never zod's issues as JSON.
    expect(r.err).toBe(
      `error: option '--queue <name>' argument 'nope' is invalid. Invalid option: expected one of "ingest"|"score"|"writeback"|"followup"|"poll"\n`,
    );
  });

  it('replays every dead letter only with --all or a yes, and refuses an unknown id', async () => {
    const no = answering('n\n', 'dlq', 'replay');
    expect(no.code).toBe(1);
    expect(no.err).toBe(
      'replay all 1 dead letter(s)? [y/N] nothing done: replay one job with --id <jobId>, or every one with --all\n',
    );
    // Nothing on stdin is a no too, not a hang.
    expect(cli('dlq', 'replay', '--queue', 'writeback').code).toBe(1);
    expect(await queues.writeback.getFailedCount()).toBe(1);

    const unknown = cli('dlq', 'replay', '--id', 'hf.nope');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe('no dead letter with job id hf.nope\n');
    expect(cli('dlq', 'purge', '--id', 'hf.nope', '--queue', 'writeback').err).toBe(
      'no dead letter with job id hf.nope in writeback\n',
    );
    expect(await queues.writeback.getFailedCount()).toBe(1);
  });

  it('replays a dead letter in place, then purges', async () => {
    expect(cli('dlq', 'replay', '--id', 'hf.x').out).toBe('replayed 1 job(s)\n');
    expect(await queues.writeback.getFailedCount()).toBe(0);
    expect(await queues.writeback.getJobState('hf.x')).toBe('waiting');
    // No longer a dead letter: replaying it again is an error, not "0 jobs".
    expect(cli('dlq', 'replay', '--id', 'hf.x').code).toBe(1);

    // The replayed job fails again, next to a new one: both are replayed with a yes, then purged with --all.
    await failWritebacks(redis, queues, prefix, ['hf.y'], 'bad', 2);
    const yes = answering('y\n', 'dlq', 'replay', '--queue', 'writeback');
    expect(yes.out).toBe('replayed 2 job(s)\n');
    expect(yes.err).toBe('replay all 2 dead letter(s) in writeback? [y/N] ');
    await failWritebacks(redis, queues, prefix, [], 'bad', 2);
    const purged = cli('dlq', 'purge', '--queue', 'writeback', '--all');
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
    expect(r.out).not.toContain('Routing:');
  });

  it('explains a handed-off lead with its routing and SLA clock', () => {
    const r = cli('explain', 'hubspot.contact.78');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /Handed off as MQL \(hand-raise\) [\d-]+ [\d:]+ UTC, handoff hf\.hubspot\.contact\.78\.0\.mql\./,
    );
    expect(r.out).toContain(
      'Routing: Ana Ruiz (101) by rule round-robin-all (round_robin): next in the round robin\n' +
        '  passed over Ben Okafor (102) in rule round-robin-all: at capacity\n' +
        'Owner now: Chloé Martin (103) (reassigned after an SLA breach).\n',
    );
    expect(r.out).toMatch(/SLA: overdue by 2 h \(was due [\d-]+ [\d:]+ UTC\), 1 breach\.\n$/);
    const json = JSON.parse(cli('explain', 'hubspot.contact.78', '--json').out) as {
      handoff: { ownerId: string; sla: { breaches: number } };
    };
    expect(json.handoff).toMatchObject({ ownerId: '103', sla: { breaches: 1 } });
  });

  it('refuses a lead it has never seen, and a lead argument that names none', () => {
    const r = cli('explain', 'hubspot.contact.404');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`no lead hubspot.contact.404 under prefix ${prefix}: never seen, or forgotten\n`);
    const bad = cli('explain', 'zoho:lead:1');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^"zoho:lead:1" names no lead: use hubspot\.contact\.<id>.*\n$/);
  });
});
