import { z } from 'zod';
import type { Rep } from '../config/schema.js';
import type { AuditEntry, AuditType } from '../store/handoffs.js';

export interface SpeedSummary {
  buckets: { label: string; count: number }[];
  p50: number | null;
  p90: number | null;
  /** Kept for the dashboard, which shows it. */
  p95: number | null;
  p99: number | null;
  samples: number;
}

/** Inclusive upper bounds in ms. */
const SPEED_BUCKETS: [string, number][] = [
  ['≤ 1 s', 1_000],
  ['≤ 5 s', 5_000],
  ['≤ 60 s', 60_000],
  ['≤ 5 min', 300_000],
  ['≤ 1 h', 3_600_000],
  ['> 1 h', Infinity],
];

/** Pure: histogram and percentiles (nearest rank) of speed-to-lead samples in ms. */
export function summarizeSpeed(samples: number[]): SpeedSummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const buckets = SPEED_BUCKETS.map(([label]) => ({ label, count: 0 }));
  for (const ms of sorted) buckets[SPEED_BUCKETS.findIndex(([, upper]) => ms <= upper)]!.count++;
  return {
    buckets,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    samples: sorted.length,
  };
}

function percentile(sorted: number[], p: number): number | null {
  return sorted.length ? sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]! : null;
}

// Audit entries come from JSON in Redis: the envelope and the parts of each detail the report relies
// on are checked, and entries that do not match are counted, not trusted.
const Envelope = z.object({
  type: z.string(),
  handoffId: z.string().optional(),
  lead: z.string().optional(),
  detail: z.record(z.string(), z.unknown()),
  at: z.number(),
});
type Envelope = z.infer<typeof Envelope>;
const OwnerId = z.string().nullable();
const Details = {
  // Handoffs audited before routing existed carry no owner.
  handoff: z.object({ score: z.number(), ownerId: OwnerId.default(null) }),
  writeback: z.object({ speedToLeadMs: z.number() }),
  rep_action: z.object({ ownerId: OwnerId, afterMs: z.number() }),
  sla_breach: z.object({ ownerId: OwnerId }),
  reassign: z.object({ ownerId: z.string() }),
  disposition: z.object({ reason: z.string().nullable(), action: z.string() }),
  converted: z.object({ stage: z.string() }),
} satisfies Partial<Record<AuditType, z.ZodType>>;

const UNASSIGNED = 'unassigned';

/** A rep's name from `routing.reps`; other owners (a fallback queue user, `unassigned`) by id. */
export function repName(reps: readonly Pick<Rep, 'id' | 'name'>[], id: string): string {
  return reps.find((r) => r.id === id)?.name ?? id;
}

interface HandoffFacts {
  score: number;
  /** The owner now (reassignments move it). */
  ownerId: string;
  speedToLeadMs?: number;
  /** The first rep action: who and how long after the handoff. */
  action?: { ownerId: string; afterMs: number; onTime: boolean };
  /** Owners who let this handoff's SLA lapse before anyone acted. */
  breachedBy: Set<string>;
  converted: boolean;
  /** Action of the last disposition. */
  disposition?: string;
}

export interface Report {
  period: { from: number | null; to: number | null };
  handoffs: number;
  speedToLead: SpeedSummary;
  slaPerRep: {
    owner: string;
    handoffs: number;
    acted: number;
    breaches: number;
    /** First actions before any breach of theirs / (those + their SLA breaches). */
    compliancePct: number | null;
    medianFirstActionMin: number | null;
  }[];
  byScoreBand: {
    band: string;
    handoffs: number;
    converted: number;
    disqualified: number;
    recycled: number;
    conversionPct: number | null;
  }[];
  byReason: { reason: string; count: number; actions: string[] }[];
  /** Reason codes sales used that no rule maps: fix the config or the CRM picklist. */
  unknownReasons: string[];
  perRep: {
    owner: string;
    handoffs: number;
    actualPct: number;
    expectedPct: number | null;
    diffPts: number | null;
  }[];
  /** First actions before any breach / (those + breaches), over every rep. */
  slaMetPct: number | null;
  /** Handoffs whose SLA lapsed and that nobody has acted on, converted or sent back since. */
  openBreaches: number;
  /** Audit entries whose shape did not match and were left out. */
  malformed: number;
}

export interface ReportOptions {
  /** Names for the tables; the weights of active reps give each one's expected share. */
  reps: readonly Pick<Rep, 'id' | 'name' | 'weight' | 'active'>[];
  /** Inclusive score ranges, e.g. SCORE_BANDS. */
  bands: readonly (readonly [number, number])[];
  /** Entries at or after `from` and before `to` count. */
  from?: number;
  to?: number;
}

/**
 * Pure. Speed to lead, SLA compliance per rep, conversion and disqualification by score band and
 * by reason code, and each rep's share of handoffs against their weight, from the audit log.
 * Entries join their handoff by handoff id, or without one by lead (its latest handoff so far).
 */
export function buildReport(entries: readonly AuditEntry[], opts: ReportOptions): Report {
  let malformed = 0;
  const inPeriod: Envelope[] = [];
  for (const raw of entries) {
    const e = Envelope.safeParse(raw);
    if (!e.success) malformed++;
    else if (
      (opts.from === undefined || e.data.at >= opts.from) &&
      (opts.to === undefined || e.data.at < opts.to)
    )
      inPeriod.push(e.data);
  }

  const all: HandoffFacts[] = [];
  const byId = new Map<string, HandoffFacts>();
  const byLead = new Map<string, HandoffFacts>();
  const reasons = new Map<string, { count: number; actions: Set<string> }>();
  const parse = <K extends keyof typeof Details>(type: K, e: Envelope) => {
    const parsed = Details[type].safeParse(e.detail);
    if (!parsed.success) malformed++;
    return parsed.success ? (parsed.data as z.infer<(typeof Details)[K]>) : undefined;
  };

  // Oldest first, so handoffs exist before what happens to them.
  for (const e of inPeriod.sort((a, b) => a.at - b.at)) {
    const facts =
      e.handoffId !== undefined
        ? byId.get(e.handoffId)
        : e.lead !== undefined
          ? byLead.get(e.lead)
          : undefined;
    switch (e.type) {
      case 'handoff': {
        const d = parse('handoff', e);
        if (!d) break;
        if (e.handoffId === undefined && e.lead === undefined) {
          malformed++;
          break;
        }
        // Retries audited some decisions twice before that was prevented: the first one stands.
        if (e.handoffId !== undefined && byId.has(e.handoffId)) break;
        const f: HandoffFacts = {
          score: d.score,
          ownerId: d.ownerId ?? UNASSIGNED,
          breachedBy: new Set(),
          converted: false,
        };
        all.push(f);
        if (e.handoffId !== undefined) byId.set(e.handoffId, f);
        if (e.lead !== undefined) byLead.set(e.lead, f);
        break;
      }
      case 'writeback': {
        const d = parse('writeback', e);
        if (d && facts) facts.speedToLeadMs = d.speedToLeadMs;
        break;
      }
      case 'rep_action': {
        const d = parse('rep_action', e);
        if (!d || !facts || facts.action) break;
        const ownerId = d.ownerId ?? facts.ownerId;
        facts.action = { ownerId, afterMs: d.afterMs, onTime: !facts.breachedBy.has(ownerId) };
        break;
      }
      case 'sla_breach': {
        const d = parse('sla_breach', e);
        if (d && facts && !facts.action) facts.breachedBy.add(d.ownerId ?? facts.ownerId);
        break;
      }
      case 'reassign': {
        const d = parse('reassign', e);
        if (d && facts) facts.ownerId = d.ownerId;
        break;
      }
      case 'stage_moved_on':
        // The CRM had the record at or past the stage already: it was never handed off.
        if (facts && all.includes(facts)) all.splice(all.indexOf(facts), 1);
        break;
      case 'converted':
        if (parse('converted', e) && facts) facts.converted = true;
        break;
      case 'disposition': {
        const d = parse('disposition', e);
        if (!d) break;
        if (facts) facts.disposition = d.action;
        const key = d.reason ?? '(no reason)';
        const entry = reasons.get(key) ?? { count: 0, actions: new Set<string>() };
        entry.count++;
        entry.actions.add(d.action);
        reasons.set(key, entry);
        break;
      }
      default:
        break;
    }
  }

  const owners = [...new Set(all.map((f) => f.ownerId))].sort();
  const name = (id: string) => repName(opts.reps, id);
  const owned = (id: string) => all.filter((f) => f.ownerId === id).length;
  const pct = (part: number, whole: number) => (whole ? Math.round((1000 * part) / whole) / 10 : null);

  // SLA figures belong to the rep whose clock it was: a breach to who let it lapse, an action to who acted.
  const slaOwners = [
    ...new Set([
      ...owners,
      ...all.flatMap((f) => [...f.breachedBy, ...(f.action ? [f.action.ownerId] : [])]),
    ]),
  ].sort();
  const slaPerRep = slaOwners.map((id) => {
    const actions = all.flatMap((f) => (f.action?.ownerId === id ? [f.action] : []));
    const breaches = all.filter((f) => f.breachedBy.has(id)).length;
    const onTime = actions.filter((a) => a.onTime).length;
    const median = percentile(
      actions.map((a) => a.afterMs).sort((a, b) => a - b),
      0.5,
    );
    return {
      owner: name(id),
      handoffs: owned(id),
      acted: actions.length,
      breaches,
      compliancePct: pct(onTime, onTime + breaches),
      medianFirstActionMin: median === null ? null : Math.round(median / 60_000),
    };
  });

  const byScoreBand = opts.bands.map(([lo, hi]) => {
    const inBand = all.filter((f) => f.score >= lo && f.score <= hi);
    const converted = inBand.filter((f) => f.converted).length;
    return {
      band: `${lo}–${hi}`,
      handoffs: inBand.length,
      converted,
      disqualified: inBand.filter((f) => f.disposition === 'disqualify' || f.disposition === 'bad_data')
        .length,
      recycled: inBand.filter((f) => f.disposition === 'recycle').length,
      conversionPct: pct(converted, inBand.length),
    };
  });

  const weights = new Map(opts.reps.filter((r) => r.active).map((r) => [r.id, r.weight]));
  const totalWeight = [...weights.values()].reduce((a, b) => a + b, 0);
  const perRep = [...new Set([...weights.keys(), ...owners])].map((id) => {
    const actualPct = pct(owned(id), all.length) ?? 0;
    const weight = weights.get(id);
    const expectedPct = weight === undefined ? null : Math.round((1000 * weight) / totalWeight) / 10;
    return {
      owner: name(id),
      handoffs: owned(id),
      actualPct,
      expectedPct,
      diffPts: expectedPct === null ? null : Math.round((actualPct - expectedPct) * 10) / 10,
    };
  });

  const onTime = all.filter((f) => f.action?.onTime).length;
  const breaches = all.reduce((n, f) => n + f.breachedBy.size, 0);

  const byReason = [...reasons]
    .map(([reason, r]) => ({ reason, count: r.count, actions: [...r.actions].sort() }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  return {
    period: { from: opts.from ?? null, to: opts.to ?? null },
    handoffs: all.length,
    speedToLead: summarizeSpeed(all.flatMap((f) => (f.speedToLeadMs === undefined ? [] : [f.speedToLeadMs]))),
    slaPerRep,
    byScoreBand,
    byReason,
    unknownReasons: byReason.filter((r) => r.actions.includes('unknown')).map((r) => r.reason),
    perRep,
    slaMetPct: pct(onTime, onTime + breaches),
    openBreaches: all.filter((f) => f.breachedBy.size && !f.action && !f.converted && !f.disposition).length,
    malformed,
  };
}

/** A table of the report, as text cells. */
export interface ReportTable {
  header: string[];
  rows: string[][];
}

/** The report in reading order: lines of text and tables, for the CLI to render. */
export function reportBlocks(r: Report): (string | ReportTable)[] {
  const n = (v: number | null, unit = '') => (v === null ? '—' : `${v}${unit}`);
  const time = (at: number) => `${new Date(at).toISOString().slice(0, 16)}Z`;
  const s = r.speedToLead;
  return [
    `${r.handoffs} handoffs` +
      (r.period.from !== null ? ` since ${time(r.period.from)}` : '') +
      (r.period.to !== null ? ` until ${time(r.period.to)}` : '') +
      (r.malformed ? ` (${r.malformed} malformed audit entries left out)` : ''),
    '',
    `Speed to lead (webhook → all CRM writes): p50 ${n(s.p50, ' ms')}, p90 ${n(s.p90, ' ms')}, p99 ${n(s.p99, ' ms')} over ${s.samples}`,
    {
      header: ['bucket', 'handoffs'],
      rows: s.buckets.map((b) => [b.label, String(b.count)]),
    },
    'SLA per rep',
    {
      header: ['rep', 'handoffs', 'acted', 'breaches', 'compliance', 'median first action'],
      rows: r.slaPerRep.map((x) => [
        x.owner,
        String(x.handoffs),
        String(x.acted),
        String(x.breaches),
        n(x.compliancePct, '%'),
        n(x.medianFirstActionMin, ' min'),
      ]),
    },
    'By score band',
    {
      header: ['band', 'handoffs', 'converted', 'disqualified', 'recycled', 'conversion'],
      rows: r.byScoreBand.map((b) => [
        b.band,
        String(b.handoffs),
        String(b.converted),
        String(b.disqualified),
        String(b.recycled),
        n(b.conversionPct, '%'),
      ]),
    },
    'Dispositions by reason code',
    {
      header: ['reason', 'count', 'action'],
      rows: r.byReason.map((x) => [x.reason, String(x.count), x.actions.join(', ')]),
    },
    ...(r.unknownReasons.length
      ? [
          `Unmapped reason codes (nothing was done; add them to dispositions.reasons): ${r.unknownReasons.join(', ')}`,
          '',
        ]
      : []),
    'Handoffs per rep vs weight',
    {
      header: ['rep', 'handoffs', 'actual', 'expected', 'diff'],
      rows: r.perRep.map((x) => [
        x.owner,
        String(x.handoffs),
        `${x.actualPct}%`,
        n(x.expectedPct, '%'),
        x.diffPts === null ? '—' : `${x.diffPts > 0 ? '+' : ''}${x.diffPts} pts`,
      ]),
    },
  ];
}
