import { describe, expect, it } from 'vitest';
import { SCORE_BANDS } from '../../src/domain/index.js';
import { formatReport } from '../../src/cli/format.js';
import {
  buildReport,
  countFolded,
  emptyCounters,
  foldAudit,
  mergeCounters,
  roundUp3,
  summarize,
  summarizeSpeed,
} from '../../src/reports/index.js';
import type { AuditEntry } from '../../src/store/handoffs.js';

const T = Date.UTC(2026, 10, 20);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const reps = [
  { id: '1', name: 'Ana', weight: 2, active: true },
  { id: '2', name: 'Ben', weight: 1, active: true },
  { id: '3', name: 'Cleo', weight: 1, active: false },
];
const handoff = (id: string, score: number, ownerId: string | null, at: number): AuditEntry => ({
  type: 'handoff',
  handoffId: id,
  lead: `lead-${id}`,
  detail: { stage: 'mql', trigger: 'threshold', score, ownerId, ruleId: 'r', receivedAt: at - 100 },
  at,
});
const entry = (
  type: AuditEntry['type'],
  id: string,
  detail: Record<string, unknown>,
  at: number,
): AuditEntry => ({ type, handoffId: id, lead: `lead-${id}`, detail, at });
const disposition = (reason: string | null, action: string, score: number) => ({
  status: 'UNQUALIFIED',
  reason,
  action,
  score,
});
const malformed = (e: unknown) => e as AuditEntry;

// Seven handoffs, as the pipeline audits them (shuffled below: the report must not rely on order).
const log: AuditEntry[] = [
  // a: Ana acts in 10 minutes; the lead becomes an opportunity. Two stray entries change nothing.
  handoff('a', 92, '1', T),
  handoff('a', 10, '2', T + 2), // audited twice by a retry: the first counts
  entry('writeback', 'a', { speedToLeadMs: 400 }, T + 1),
  entry('rep_action', 'a', { ownerId: '1', what: 'leadStatus → CONNECTED', afterMs: 10 * MIN }, T + 10 * MIN),
  entry('sla_breach', 'a', { ownerId: '1', action: 'notify', dueAt: T }, T + 20 * MIN), // after acting
  entry('rep_action', 'a', { ownerId: '1', what: 'call', afterMs: 15 * MIN }, T + 15 * MIN), // not the first
  entry('converted', 'a', { stage: 'opportunity', score: 92 }, T + 5 * DAY),

  // b: Ben lets it lapse, it is reassigned to Ana, who acts; sales recycles it.
  handoff('b', 55, '2', T + MIN),
  entry('writeback', 'b', { speedToLeadMs: 900 }, T + MIN + 1),
  entry('sla_breach', 'b', { ownerId: '2', action: 'reassign', dueAt: T + 4 * HOUR }, T + 4 * HOUR),
  entry('reassign', 'b', { from: '2', ownerId: '1', reason: 'x' }, T + 4 * HOUR + 1),
  entry('rep_action', 'b', { ownerId: '1', what: 'task completed', afterMs: 300 * MIN }, T + 5 * HOUR),
  entry('disposition', 'b', disposition('no_budget', 'recycle', 55), T + 6 * HOUR),

  // c: Ben acts in 20 minutes; disqualified (competitor).
  handoff('c', 48, '2', T + 2 * MIN),
  entry('writeback', 'c', { speedToLeadMs: 7_000 }, T + 2 * MIN + 1),
  entry('rep_action', 'c', { ownerId: '2', what: 'x', afterMs: 20 * MIN }, T + 30 * MIN),
  entry('disposition', 'c', disposition('competitor', 'disqualify', 48), T + 40 * MIN),

  // d: nobody owns it; its writeback entry is malformed; sales used a code nobody mapped, and the
  // disposition arrived without a handoff id (joined by lead).
  handoff('d', 61, null, T + 3 * MIN),
  entry('writeback', 'd', { speedToLeadMs: 'fast' }, T + 4 * MIN),
  { type: 'disposition', lead: 'lead-d', detail: disposition('moon', 'unknown', 61), at: T + 50 * MIN },

  // e: Cleo (since deactivated) got it during a CRM outage: written after 2 hours, joined by lead;
  // her SLA lapsed (a breach without an owner id is the owner's), she acted late; bad data.
  handoff('e', 15, '3', T + 5 * MIN),
  { type: 'writeback', lead: 'lead-e', detail: { speedToLeadMs: 2 * HOUR }, at: T + 5 * MIN + 2 * HOUR },
  entry('sla_breach', 'e', { ownerId: null, action: 'escalate', dueAt: T }, T + 2 * HOUR + 20 * MIN),
  entry('rep_action', 'e', { ownerId: '3', what: 'email', afterMs: 90 * MIN }, T + 3 * HOUR + 35 * MIN),
  entry('disposition', 'e', disposition('fake_email', 'bad_data', 15), T + 4 * HOUR),

  // f: Ana acts in 4 minutes; the lead becomes a customer.
  handoff('f', 35, '1', T + 6 * MIN),
  entry('writeback', 'f', { speedToLeadMs: 45_000 }, T + 6 * MIN + 45_000),
  entry('rep_action', 'f', { ownerId: '1', what: 'call', afterMs: 4 * MIN }, T + 11 * MIN),
  entry('converted', 'f', { stage: 'customer', score: 35 }, T + 2 * DAY),

  // g: Ben has not acted yet and his SLA has not lapsed; another unmapped code.
  handoff('g', 80, '2', T + 7 * MIN),
  entry('writeback', 'g', { speedToLeadMs: 240_000 }, T + 11 * MIN),
  entry('disposition', 'g', disposition('moon', 'unknown', 80), T + DAY),

  // Not for the report, or not for any handoff in it.
  { type: 'dead_letter', lead: 'lead-x', detail: { step: 'scores' }, at: T },
  { type: 'owner_invalid', lead: 'lead-x', detail: { ownerId: '9', why: 'inactive' }, at: T },
  entry('rep_action', 'unknown-handoff', { ownerId: '1', what: 'x', afterMs: 1 }, T + 9 * MIN),

  // Malformed: counted, not trusted.
  malformed({ type: 'handoff' }),
  malformed({ type: 'handoff', handoffId: 'h', detail: { score: 50, ownerId: '1' }, at: String(T) }),
  malformed(null),
  { type: 'handoff', detail: { score: 50, ownerId: '1' }, at: T + 8 * MIN }, // joins nothing
  entry('converted', 'c', { score: 48 }, T + 3 * DAY),
];
const shuffled = [...log].reverse();

describe('buildReport', () => {
  const r = buildReport(shuffled, { reps, bands: SCORE_BANDS });

  it('speed to lead from the writebacks', () => {
    expect(r.handoffs).toBe(7);
    expect(r.speedToLead).toEqual({
      // 400, 900, 7 000, 45 000, 240 000, 7 200 000 ms
      buckets: [
        { label: '≤ 1 s', count: 2 },
        { label: '≤ 5 s', count: 0 },
        { label: '≤ 60 s', count: 2 },
        { label: '≤ 5 min', count: 1 },
        { label: '≤ 1 h', count: 0 },
        { label: '> 1 h', count: 1 },
      ],
      p50: 7_000,
      p90: 2 * HOUR,
      p95: 2 * HOUR,
      p99: 2 * HOUR,
      samples: 6,
    });
  });

  it('SLA per rep: breaches to who let it lapse, actions to who acted, before any breach of theirs', () => {
    expect(r.slaPerRep).toEqual([
      // a 10 min, b 300 min (on her own clock: Ben's lapse is his), f 4 min.
      { owner: 'Ana', handoffs: 3, acted: 3, breaches: 0, compliancePct: 100, medianFirstActionMin: 10 },
      // c in 20 min, b lapsed; g still open counts neither way.
      { owner: 'Ben', handoffs: 2, acted: 1, breaches: 1, compliancePct: 50, medianFirstActionMin: 20 },
      // e: acted after her own breach.
      { owner: 'Cleo', handoffs: 1, acted: 1, breaches: 1, compliancePct: 0, medianFirstActionMin: 90 },
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
      { band: '0–19', handoffs: 1, converted: 0, disqualified: 1, recycled: 0, conversionPct: 0 },
      { band: '20–39', handoffs: 1, converted: 1, disqualified: 0, recycled: 0, conversionPct: 100 },
      { band: '40–59', handoffs: 2, converted: 0, disqualified: 1, recycled: 1, conversionPct: 0 },
      { band: '60–79', handoffs: 1, converted: 0, disqualified: 0, recycled: 0, conversionPct: 0 },
      { band: '80–100', handoffs: 2, converted: 1, disqualified: 0, recycled: 0, conversionPct: 50 },
    ]);
  });

  it('dispositions by reason, unmapped codes called out', () => {
    expect(r.byReason).toEqual([
      { reason: 'moon', count: 2, actions: ['unknown'] },
      { reason: 'competitor', count: 1, actions: ['disqualify'] },
      { reason: 'fake_email', count: 1, actions: ['bad_data'] },
      { reason: 'no_budget', count: 1, actions: ['recycle'] },
    ]);
    expect(r.unknownReasons).toEqual(['moon']);
  });

  it('handoffs per rep against their weight (inactive reps expect nothing)', () => {
    expect(r.perRep).toEqual([
      { owner: 'Ana', handoffs: 3, actualPct: 42.9, expectedPct: 66.7, diffPts: -23.8 },
      { owner: 'Ben', handoffs: 2, actualPct: 28.6, expectedPct: 33.3, diffPts: -4.7 },
      { owner: 'Cleo', handoffs: 1, actualPct: 14.3, expectedPct: null, diffPts: null },
      { owner: 'unassigned', handoffs: 1, actualPct: 14.3, expectedPct: null, diffPts: null },
    ]);
  });

  it('counts malformed entries and leaves them out', () => {
    expect(r.malformed).toBe(6);
    expect(r.period).toEqual({ from: null, to: null });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('leaves out a handoff whose record sales had already moved on (or converted) before us', () => {
    const movedOn = buildReport(
      [
        handoff('m', 80, '1', T),
        entry('stage_moved_on', 'm', { stage: 'customer', wanted: 'mql', ownerId: '1', restored: [] }, T + 1),
        entry('converted', 'm', { stage: 'Closed - Converted', score: 80 }, T + 2),
        handoff('k', 80, '2', T + MIN),
        entry('writeback', 'k', { speedToLeadMs: 300 }, T + MIN + 1),
      ],
      { reps, bands: SCORE_BANDS },
    );
    expect(movedOn.handoffs).toBe(1);
    expect(movedOn.byScoreBand.filter((b) => b.handoffs > 0)).toEqual([
      { band: '80–100', handoffs: 1, converted: 0, disqualified: 0, recycled: 0, conversionPct: 0 },
    ]);
    expect(movedOn.perRep.filter((p) => p.handoffs > 0).map((p) => p.owner)).toEqual(['Ben']);
  });

  it('joins entries without a handoff id to the latest handoff of their lead', () => {
    // Recycled after its first handoff, the lead was handed off again and converted.
    const again = buildReport(
      [
        { ...handoff('x1', 50, '1', T), lead: 'lead-x' },
        {
          type: 'disposition',
          lead: 'lead-x',
          detail: disposition('no_budget', 'recycle', 50),
          at: T + HOUR,
        },
        { ...handoff('x2', 70, '1', T + DAY), lead: 'lead-x' },
        { type: 'converted', lead: 'lead-x', detail: { stage: 'opportunity', score: 70 }, at: T + 2 * DAY },
      ],
      { reps, bands: SCORE_BANDS },
    );
    expect(again.byScoreBand.filter((b) => b.handoffs > 0)).toEqual([
      { band: '40–59', handoffs: 1, converted: 0, disqualified: 0, recycled: 1, conversionPct: 0 },
      { band: '60–79', handoffs: 1, converted: 1, disqualified: 0, recycled: 0, conversionPct: 100 },
    ]);
  });
});

describe('buildReport over a period', () => {
  // c, d, e, f and g were handed off in the hour from T + 2 min; what happened after it is left out.
  const r = buildReport(shuffled, { reps, bands: SCORE_BANDS, from: T + 2 * MIN, to: T + HOUR });

  it('counts the handoffs, and only what happened to them inside the period', () => {
    expect(r.period).toEqual({ from: T + 2 * MIN, to: T + HOUR });
    expect(r.handoffs).toBe(5);
    // e's writeback came after the period.
    expect(r.speedToLead).toMatchObject({ samples: 3, p50: 45_000, p90: 240_000 });
    expect(r.slaPerRep.map((x) => [x.owner, x.acted, x.breaches])).toEqual([
      ['Ana', 1, 0],
      ['Ben', 1, 0],
      ['Cleo', 0, 0],
      ['unassigned', 0, 0],
    ]);
    expect(r.byReason.map((x) => [x.reason, x.count])).toEqual([
      ['competitor', 1],
      ['moon', 1],
    ]);
    expect(r.byScoreBand.map((b) => b.converted)).toEqual([0, 0, 0, 0, 0]);
    // d's writeback and the nameless handoff fall inside it; the entries with no usable time always count.
    expect(r.malformed).toBe(5);
  });

  it('starts inclusive and ends exclusive', () => {
    const at = (from: number, to: number) =>
      buildReport(log, { reps, bands: SCORE_BANDS, from, to }).handoffs;
    expect(at(T + 2 * MIN, T + 3 * MIN)).toBe(1);
    expect(at(T + 2 * MIN + 1, T + 3 * MIN + 1)).toBe(1);
  });
});

describe('buildReport with no entries', () => {
  it('reports zeros and no figures, still expecting the weighted shares', () => {
    expect(buildReport([], { reps, bands: SCORE_BANDS })).toEqual({
      period: { from: null, to: null },
      handoffs: 0,
      speedToLead: {
        buckets: ['≤ 1 s', '≤ 5 s', '≤ 60 s', '≤ 5 min', '≤ 1 h', '> 1 h'].map((label) => ({
          label,
          count: 0,
        })),
        p50: null,
        p90: null,
        p95: null,
        p99: null,
        samples: 0,
      },
      slaPerRep: [],
      byScoreBand: SCORE_BANDS.map(([lo, hi]) => ({
        band: `${lo}–${hi}`,
        handoffs: 0,
        converted: 0,
        disqualified: 0,
        recycled: 0,
        conversionPct: null,
      })),
      byReason: [],
      unknownReasons: [],
      perRep: [
        { owner: 'Ana', handoffs: 0, actualPct: 0, expectedPct: 66.7, diffPts: -66.7 },
        { owner: 'Ben', handoffs: 0, actualPct: 0, expectedPct: 33.3, diffPts: -33.3 },
      ],
      slaMetPct: null,
      openBreaches: 0,
      malformed: 0,
    });
  });

  it('SLA met over every rep, and the breaches nobody has acted on yet', () => {
    // On time: a, b (Ana, on her own clock), c, f; late: e. Breaches: b (Ben), e (Cleo).
    const r = buildReport(shuffled, { reps, bands: SCORE_BANDS });
    expect(r.slaMetPct).toBe(66.7);
    expect(r.openBreaches).toBe(0);
    const open = buildReport(
      [
        ...shuffled,
        // h lapsed and nobody acted; i lapsed, then sales sent it back; j lapsed, then converted.
        handoff('h', 70, '2', T + 8 * MIN),
        entry('sla_breach', 'h', { ownerId: '2', action: 'notify', dueAt: T }, T + 5 * HOUR),
        handoff('i', 70, '2', T + 9 * MIN),
        entry('sla_breach', 'i', { ownerId: '2', action: 'notify', dueAt: T }, T + 5 * HOUR),
        entry('disposition', 'i', disposition('not_now', 'recycle', 70), T + 6 * HOUR),
        handoff('j', 70, '1', T + 10 * MIN),
        entry('sla_breach', 'j', { ownerId: '1', action: 'notify', dueAt: T }, T + 5 * HOUR),
        entry('converted', 'j', { stage: 'opportunity', score: 70 }, T + 6 * HOUR),
      ],
      { reps, bands: SCORE_BANDS },
    );
    expect(open.openBreaches).toBe(1);
    expect(open.slaMetPct).toBe(44.4);
  });
});

describe('the report from counters', () => {
  const opts = { reps, bands: SCORE_BANDS };
  const byDay = (entries: readonly AuditEntry[], day: number) =>
    entries.filter((e) => typeof e?.at === 'number' && e.at >= T + day * DAY && e.at < T + (day + 1) * DAY);

  it('is the report of the entries, with and without a period', () => {
    for (const period of [{}, { from: T + 2 * MIN, to: T + HOUR }]) {
      const o = { ...opts, ...period };
      expect(summarize(countFolded(foldAudit(shuffled, period)), o)).toEqual(buildReport(shuffled, o));
    }
  });

  it('adds up day by day: each day its handoffs with what came after, its own dispositions', () => {
    // The malformed entries without a time stand for a day of their own.
    const timeless = log.filter((e) => typeof e?.at !== 'number');
    const days = [0, 1, 2, 3, 4, 5].map((day) =>
      countFolded(
        foldAudit(
          byDay(shuffled, day),
          {},
          shuffled.filter((e) => typeof e?.at === 'number' && e.at >= T + (day + 1) * DAY),
        ),
      ),
    );
    const merged = [...days, countFolded(foldAudit(timeless))].reduce(mergeCounters, emptyCounters());
    expect(summarize(merged, opts)).toEqual(buildReport(shuffled, opts));
    // The first day alone has every handoff, converted or sent back days later; day 1 only g's disposition.
    expect(summarize(days[0]!, opts).byScoreBand).toEqual(buildReport(shuffled, opts).byScoreBand);
    expect(days[1]).toMatchObject({ handoffs: 0, reasons: { moon: { unknown: 1 } } });
  });

  it('survives JSON, as a kept day does', () => {
    const c = countFolded(foldAudit(shuffled));
    expect(summarize(JSON.parse(JSON.stringify(c)) as typeof c, opts)).toEqual(buildReport(shuffled, opts));
  });

  it('a later handoff of the same lead takes its entries, though another day counts it', () => {
    const first = { ...handoff('x1', 50, '1', T), lead: 'lead-x' };
    const later = [
      { ...handoff('x2', 70, '1', T + DAY), lead: 'lead-x' },
      { type: 'converted', lead: 'lead-x', detail: { stage: 'opportunity', score: 70 }, at: T + 2 * DAY },
    ] satisfies AuditEntry[];
    const c = countFolded(foldAudit([first], {}, later));
    expect(c).toMatchObject({ handoffs: 1, scores: { 50: { handoffs: 1, converted: 0 } } });
  });

  it('keeps speed to lead to 3 significant digits, rounded up: percentiles at most 1% over', () => {
    expect([0, 999, 1_000, 1_001, 1_234, 99_950, 7_201_000].map(roundUp3)).toEqual([
      0, 999, 1_000, 1_010, 1_240, 100_000, 7_210_000,
    ]);
    const r = buildReport(
      [handoff('s', 50, '1', T), entry('writeback', 's', { speedToLeadMs: 1_234 }, T + 1)],
      opts,
    );
    expect(r.speedToLead).toMatchObject({ p50: 1_240, samples: 1 });
    expect(r.speedToLead.buckets[1]).toEqual({ label: '≤ 5 s', count: 1 });
  });
});

describe('summarizeSpeed', () => {
  it('takes nearest-rank percentiles; bucket bounds are inclusive', () => {
    const s = summarizeSpeed(Array.from({ length: 100 }, (_, i) => (i + 1) * 1_000));
    expect(s).toMatchObject({ p50: 50_000, p90: 90_000, p95: 95_000, p99: 99_000, samples: 100 });
    const edges = summarizeSpeed([
      1_000,
      1_001,
      5_000,
      5_001,
      60_000,
      60_001,
      300_000,
      300_001,
      HOUR,
      HOUR + 1,
    ]);
    expect(edges.buckets.map((b) => b.count)).toEqual([1, 2, 2, 2, 2, 1]);
  });
});

describe('formatReport', () => {
  it('renders aligned tables, the period and what needs attention', () => {
    const text = formatReport(buildReport(log, { reps, bands: SCORE_BANDS }));
    expect(text).toContain('7 handoffs (6 malformed audit entries left out)');
    expect(text).toContain('p50 7000 ms, p90 7200000 ms, p99 7200000 ms over 6');
    expect(text).toMatch(/Ben\s+2\s+1\s+1\s+50%\s+20 min/);
    expect(text).toContain(
      'Unmapped reason codes (nothing was done; add them to dispositions.reasons): moon',
    );
    expect(text).toContain(
      [
        'Handoffs per rep vs weight',
        'rep         handoffs  actual  expected  diff',
        'Ana         3         42.9%   66.7%     -23.8 pts',
        'Ben         2         28.6%   33.3%     -4.7 pts',
        'Cleo        1         14.3%   —         —',
        'unassigned  1         14.3%   —         —',
      ].join('\n'),
    );
    const empty = formatReport(buildReport([], { reps, bands: SCORE_BANDS, from: T, to: T + DAY }));
    expect(empty).toContain('0 handoffs since 2026-11-20T00:00Z until 2026-11-21T00:00Z\n');
    expect(empty).toContain('p50 —, p90 —, p99 — over 0');
    expect(empty).not.toContain('Unmapped');
  });
});
