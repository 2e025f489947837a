import { describe, expect, it } from 'vitest';
import { SCORE_BANDS } from '../../src/domain/index.js';
import { buildReport, formatReport } from '../../src/reports/index.js';
import type { AuditEntry } from '../../src/store/handoffs.js';

const T = Date.UTC(2026, 10, 20);
const MIN = 60_000;
const reps = [
  { id: '1', name: 'Ana', weight: 2, active: true },
  { id: '2', name: 'Ben', weight: 1, active: true },
  { id: '3', name: 'Cleo', weight: 1, active: false },
];
const handoff = (id: string, score: number, ownerId: string | null, at: number): AuditEntry => ({
  type: 'handoff',
  handoffId: id,
  lead: `lead-${id}`,
  detail: { stage: 'mql', trigger: 'threshold', score, ownerId, ruleId: 'r', receivedAt: at },
  at,
});
const entry = (
  type: AuditEntry['type'],
  id: string,
  detail: Record<string, unknown>,
  at: number,
): AuditEntry => ({
  type,
  handoffId: id,
  lead: `lead-${id}`,
  detail,
  at,
});

const log: AuditEntry[] = [
  handoff('a', 92, '1', T),
  entry('writeback', 'a', { speedToLeadMs: 400 }, T + 1),
  entry('rep_action', 'a', { ownerId: '1', what: 'leadStatus → CONNECTED', afterMs: 10 * MIN }, T + 10 * MIN),
  entry('converted', 'a', { stage: 'opportunity', score: 92 }, T + 5 * 86_400_000),

  handoff('b', 55, '2', T + MIN),
  entry('writeback', 'b', { speedToLeadMs: 900 }, T + MIN + 1),
  entry('sla_breach', 'b', { ownerId: '2', action: 'reassign', dueAt: T }, T + 4 * 60 * MIN),
  entry('reassign', 'b', { from: '2', ownerId: '1', reason: 'x' }, T + 4 * 60 * MIN + 1),
  entry('rep_action', 'b', { ownerId: '1', what: 'task completed', afterMs: 300 * MIN }, T + 5 * 60 * MIN),
  entry(
    'disposition',
    'b',
    { status: 'UNQUALIFIED', reason: 'no_budget', action: 'recycle', score: 55 },
    T + 6 * 60 * MIN,
  ),

  handoff('c', 48, '2', T + 2 * MIN),
  entry('writeback', 'c', { speedToLeadMs: 7_000 }, T + 2 * MIN + 1),
  entry('rep_action', 'c', { ownerId: '2', what: 'x', afterMs: 20 * MIN }, T + 30 * MIN),
  entry(
    'disposition',
    'c',
    { status: 'UNQUALIFIED', reason: 'competitor', action: 'disqualify', score: 48 },
    T + 40 * MIN,
  ),

  handoff('d', 61, null, T + 3 * MIN),
  // Sales used a code nobody mapped; the disposition arrived without a handoff id (joined by lead).
  {
    type: 'disposition',
    lead: 'lead-d',
    detail: { status: 'UNQUALIFIED', reason: 'moon', action: 'unknown' },
    at: T + 50 * MIN,
  },
  // Malformed: counted, not trusted.
  { type: 'writeback', handoffId: 'd', detail: { speedToLeadMs: 'fast' }, at: T + 4 * MIN },
  { type: 'dead_letter', detail: { step: 'scores' }, at: T },
];

describe('buildReport', () => {
  const r = buildReport(log, { reps, bands: SCORE_BANDS });

  it('speed to lead from the writebacks', () => {
    expect(r.handoffs).toBe(4);
    expect(r.speedToLead).toMatchObject({ samples: 3, p50: 900, p95: 7_000 });
    expect(r.speedToLead.buckets.map((b) => b.count)).toEqual([2, 0, 1, 0, 0]);
  });

  it('SLA per rep follows reassignments and counts breaches before the first action', () => {
    expect(r.slaPerRep).toEqual([
      // a: Ana acted in 10 min. b: Ben let it lapse, then Ana got it and acted in time on her own clock.
      { owner: 'Ana', handoffs: 2, acted: 2, breaches: 0, compliancePct: 100, medianFirstActionMin: 10 },
      { owner: 'Ben', handoffs: 1, acted: 1, breaches: 1, compliancePct: 50, medianFirstActionMin: 20 },
      {
        owner: 'unassigned',
        handoffs: 1,
        acted: 0,
        breaches: 0,
        compliancePct: null,
        medianFirstActionMin: null,
      },
    ]);
  });

  it('conversion and disqualification by score band', () => {
    expect(r.byScoreBand).toEqual([
      { band: '0–19', handoffs: 0, converted: 0, disqualified: 0, recycled: 0, conversionPct: null },
      { band: '20–39', handoffs: 0, converted: 0, disqualified: 0, recycled: 0, conversionPct: null },
      { band: '40–59', handoffs: 2, converted: 0, disqualified: 1, recycled: 1, conversionPct: 0 },
      { band: '60–79', handoffs: 1, converted: 0, disqualified: 0, recycled: 0, conversionPct: 0 },
      { band: '80–100', handoffs: 1, converted: 1, disqualified: 0, recycled: 0, conversionPct: 100 },
    ]);
  });

  it('dispositions by reason, unmapped codes called out', () => {
    expect(r.byReason).toEqual([
      { reason: 'competitor', count: 1, actions: ['disqualify'] },
      { reason: 'moon', count: 1, actions: ['unknown'] },
      { reason: 'no_budget', count: 1, actions: ['recycle'] },
    ]);
    expect(r.unknownReasons).toEqual(['moon']);
  });

  it('handoffs per rep against their weight (inactive reps expect nothing)', () => {
    expect(r.perRep).toEqual([
      { owner: 'Ana', handoffs: 2, actualPct: 50, expectedPct: 66.7, diffPts: -16.7 },
      { owner: 'Ben', handoffs: 1, actualPct: 25, expectedPct: 33.3, diffPts: -8.3 },
      { owner: 'unassigned', handoffs: 1, actualPct: 25, expectedPct: null, diffPts: null },
    ]);
  });

  it('counts malformed entries and leaves them out', () => {
    expect(r.malformed).toBe(1);
  });

  it('filters by period and renders as tables', () => {
    const later = buildReport(log, { reps, bands: SCORE_BANDS, from: T + MIN });
    expect(later.handoffs).toBe(3);
    expect(buildReport([], { reps, bands: SCORE_BANDS })).toMatchObject({ handoffs: 0, malformed: 0 });
    const text = formatReport(r);
    expect(text).toContain('4 handoffs (1 malformed audit entries left out)');
    expect(text).toMatch(/Ben\s+1\s+1\s+1\s+50%\s+20 min/);
    expect(text).toContain(
      'Unmapped reason codes (nothing was done; add them to dispositions.reasons): moon',
    );
  });
});
