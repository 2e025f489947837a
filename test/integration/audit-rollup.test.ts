import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { SCORE_BANDS } from '../../src/domain/index.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { buildReport } from '../../src/reports/index.js';
import { readReport } from '../../src/reports/read.js';
import { sweepAudit } from '../../src/reports/rollup.js';
import type { AuditEntry } from '../../src/store/handoffs.js';
import { keys } from '../../src/store/keys.js';
import { withScripts } from '../../src/store/scripts.js';
import { testConfig } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MIN = 60_000;
const T = Date.UTC(2026, 7, 1);

/**
 * 13 days of audit entries, every kind the report reads: handoffs on every day, their writebacks
 * (speeds of 4–6 significant digits), first actions, breaches, reassignments, conversions and
 * dispositions up to 4 days later (across the kept days' end), some joined by lead only, leads
 * handed off twice on different days, a handoff sales had moved on, malformed entries.
 */
function history(): AuditEntry[] {
  const log: AuditEntry[] = [];
  const owners = ['1', '2', '3', null];
  for (let i = 0; i < 130; i++) {
    const id = `hf.hubspot.contact.${i % 100}.${Math.floor(i / 100)}.mql`;
    const lead = `hubspot.contact.${i % 100}`;
    const at = T + (i % 13) * DAY + i * 7 * MIN;
    const on = (type: AuditEntry['type'], detail: Record<string, unknown>, after: number, byLead = false) =>
      log.push({ type, ...(byLead ? {} : { handoffId: id }), lead, detail, at: at + after });
    on('handoff', { score: (i * 37) % 101, ownerId: owners[i % 4] ?? null }, 0);
    if (i % 9 !== 0) on('writeback', { speedToLeadMs: 400 + i * 13_579 }, 1_000 + i);
    if (i % 5 === 1)
      on('sla_breach', { ownerId: owners[i % 4] ?? null, action: 'notify', dueAt: at }, 4 * HOUR);
    if (i % 7 === 2) on('reassign', { from: owners[i % 4], ownerId: '2' }, 4 * HOUR + 1);
    if (i % 3 !== 0) on('rep_action', { ownerId: i % 6 === 1 ? null : '2', afterMs: i * 61_111 }, 5 * HOUR);
    if (i % 4 === 0) on('converted', { stage: 'opportunity' }, (i % 5) * DAY + HOUR, i % 8 === 0);
    if (i % 6 === 5) {
      const [reason, action] = (
        [
          ['no_budget', 'recycle'],
          ['competitor', 'disqualify'],
          ['moon', 'unknown'],
        ] as const
      )[i % 3]!;
      on(
        'disposition',
        { status: 'UNQUALIFIED', reason, action, score: 1 },
        (i % 4) * DAY + 2 * HOUR,
        i % 4 === 1,
      );
    }
    if (i % 17 === 3) on('stage_moved_on', { stage: 'customer', wanted: 'mql' }, 10);
    if (i % 23 === 4) on('writeback', { speedToLeadMs: 'fast' }, 20);
  }
  return log.sort((a, b) => a.at - b.at);
}

describe('audit stream kept by age: old days as the report counters', () => {
  const redis = testRedis();
  afterAll(() => redis.disconnect());

  async function setup() {
    const prefix = uniquePrefix('audit');
    const config = testConfig(prefix);
    const k = keys(prefix);
    const log = history();
    // Stream ids at the entries' own times, as Redis would have given them.
    for (const e of log) await redis.xadd(k.audit, `${e.at}-*`, 'entry', JSON.stringify(e));
    let now = T + 100 * DAY + 5 * HOUR;
    const metrics = createMetrics();
    const deps = {
      redis,
      config,
      sharedNow: () => Promise.resolve(now),
      logger: createLogger('silent', new PassThrough()),
      metrics,
    };
    return {
      k,
      log,
      deps,
      metrics,
      setNow: (ms: number) => (now = ms),
      /** The CLI's reports: all of it, from a day start in the kept days, from inside one, and within the stream. */
      reports: () =>
        Promise.all([
          readReport(redis, config, undefined, now),
          readReport(redis, config, 97, T + 100 * DAY),
          readReport(redis, config, 97, T + 100 * DAY + 5 * HOUR),
          readReport(redis, config, 89, T + 100 * DAY),
        ]),
      close: () => cleanPrefix(redis, prefix),
    };
  }

  it('reports the same from kept days and the stream as from every entry, and trims the kept days', async () => {
    const s = await setup();
    try {
      const opts = { reps: s.deps.config.routing.reps, bands: SCORE_BANDS };
      const before = await s.reports();
      // Before any sweep the reports are those of the entries (the third from inside day 3).
      expect(before[1]).toEqual(buildReport(s.log, { ...opts, from: T + 3 * DAY }));
      expect(before[0].handoffs).toBeGreaterThan(100);
      expect(before[0].byScoreBand.some((b) => b.converted > 0)).toBe(true);

      // retention.auditDays 90 at day 100: days 0–9 are kept as counters.
      expect(await sweepAudit(s.deps)).toBe(10);
      const kept = s.log.filter((e) => e.at >= T + 10 * DAY).length;
      expect(await redis.xlen(s.k.audit)).toBe(kept);
      const [oldest] = await redis.xrange(s.k.audit, '-', '+', 'COUNT', 1);
      expect(Number(oldest![0].split('-')[0])).toBeGreaterThanOrEqual(T + 10 * DAY);
      expect(Object.keys(await redis.hgetall(s.k.auditDays)).sort()).toEqual([
        ...Array.from({ length: 10 }, (_, d) => new Date(T + d * DAY).toISOString().slice(0, 10)),
        'until',
      ]);
      expect(
        (await s.metrics.registry.getSingleMetric('leadflow_audit_entries')?.get())?.values[0]?.value,
      ).toBe(kept);

      const after = await s.reports();
      expect(after[0]).toEqual(before[0]);
      expect(after[1]).toEqual(before[1]);
      // A period starting inside a kept day covers that whole day.
      expect(after[2]).toEqual({ ...before[1], period: { from: T + 3 * DAY, to: null } });
      expect(after[3]).toEqual(before[3]);

      // The next day keeps one day more, and the reports still agree.
      s.setNow(T + 101 * DAY + HOUR);
      expect(await sweepAudit(s.deps)).toBe(1);
      expect((await s.reports())[0]).toEqual(before[0]);
    } finally {
      await s.close();
    }
  });

  it('never counts a day twice: a sweep run again or alongside another keeps nothing more', async () => {
    const s = await setup();
    try {
      const before = await s.reports();
      const both = await Promise.all([sweepAudit(s.deps), sweepAudit(s.deps)]);
      expect(both.sort()).toEqual([10, null]);
      const days = await redis.hgetall(s.k.auditDays);
      const length = await redis.xlen(s.k.audit);
      expect(await sweepAudit(s.deps)).toBe(0);
      expect(await redis.hgetall(s.k.auditDays)).toEqual(days);
      expect(await redis.xlen(s.k.audit)).toBe(length);
      expect(await s.reports()).toEqual([before[0], before[1], expect.anything(), before[3]]);
    } finally {
      await s.close();
    }
  });

  it('writes nothing without the lease, and leaves a kept day as it is', async () => {
    const s = await setup();
    try {
      await redis.set(s.k.auditSweepLease, 'another process');
      expect(await sweepAudit(s.deps)).toBeNull();
      const scripted = withScripts(redis);
      const args = [s.k.auditSweepLease, s.k.auditDays, s.k.audit] as const;
      expect(
        await scripted.leadflowAuditRollup(...args, 'mine', String(T + 10 * DAY), '2026-08-01', '{}'),
      ).toBe(-1);
      expect(await redis.exists(s.k.auditDays)).toBe(0);
      expect(await redis.xlen(s.k.audit)).toBe(s.log.length);

      await redis.del(s.k.auditSweepLease);
      expect(await sweepAudit(s.deps)).toBe(10);
      const day = await redis.hget(s.k.auditDays, '2026-08-01');
      await redis.set(s.k.auditSweepLease, 'mine');
      // A day already kept is never replaced.
      expect(
        await scripted.leadflowAuditRollup(...args, 'mine', String(T + 10 * DAY), '2026-08-01', '{}'),
      ).toBe(0);
      expect(await redis.hget(s.k.auditDays, '2026-08-01')).toBe(day);
    } finally {
      await s.close();
    }
  });
});
