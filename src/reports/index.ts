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
  return summarizeSpeedCounts(tally(samples));
}

/** Pure: the same from counted values (value → how many samples had it). */
function summarizeSpeedCounts(counts: Readonly<Record<string, number>>): SpeedSummary {
  const values = sortedCounts(counts);
  const buckets = SPEED_BUCKETS.map(([label]) => ({ label, count: 0 }));
  for (const [ms, n] of values) buckets[SPEED_BUCKETS.findIndex(([, upper]) => ms <= upper)]!.count += n;
  return {
    buckets,
    p50: percentile(values, 0.5),
    p90: percentile(values, 0.9),
    p95: percentile(values, 0.95),
    p99: percentile(values, 0.99),
    samples: values.reduce((n, [, c]) => n + c, 0),
  };
}

function tally(values: readonly number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

function sortedCounts(counts: Readonly<Record<string, number>>): [number, number][] {
  return Object.entries(counts)
    .map(([v, n]): [number, number] => [Number(v), n])
    .sort((a, b) => a[0] - b[0]);
}

/** Nearest rank over counted values, ascending. */
function percentile(values: readonly [number, number][], p: number): number | null {
  const total = values.reduce((n, [, c]) => n + c, 0);
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const [v, n] of values) if ((seen += n) >= rank) return v;
  return null;
}

/**
 * Speed to lead as the counters keep it: rounded up to 3 significant digits (1,234 ms → 1,240), so a
 * day's distinct values stay few; a percentile is then at most 1% over the sample's. The buckets'
 * bounds have 3 digits or fewer, so every sample stays in its bucket.
 */
export function roundUp3(ms: number): number {
  let unit = 1;
  while (ms > 999 * unit) unit *= 10;
  return Math.ceil(ms / unit) * unit;
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

/** What the audit entries say, per handoff and per disposition, before anything is counted. */
export interface Folded {
  handoffs: HandoffFacts[];
  dispositions: { reason: string; action: string }[];
  /** Entries whose shape did not match and were left out. */
  malformed: number;
}

/**
 * Pure. The handoffs decided in `opening` with what happened to them (in `opening` and `following`),
 * and the dispositions and malformed entries of `opening`. `following` (entries after `opening`)
 * only adds to those handoffs: a day's rollup reads the entries after that day this way. Entries
 * join their handoff by handoff id, or without one by lead (its latest handoff so far).
 */
export function foldAudit(
  opening: readonly AuditEntry[],
  period: Pick<ReportOptions, 'from' | 'to'> = {},
  following: readonly AuditEntry[] = [],
): Folded {
  let malformed = 0;
  const inPeriod: { e: Envelope; opens: boolean }[] = [];
  const read = (entries: readonly AuditEntry[], opens: boolean) => {
    for (const raw of entries) {
      const e = Envelope.safeParse(raw);
      if (!e.success) malformed += opens ? 1 : 0;
      else if (
        (period.from === undefined || e.data.at >= period.from) &&
        (period.to === undefined || e.data.at < period.to)
      )
        inPeriod.push({ e: e.data, opens });
    }
  };
  read(opening, true);
  read(following, false);

  const all: HandoffFacts[] = [];
  const dispositions: Folded['dispositions'] = [];
  const byId = new Map<string, HandoffFacts>();
  const byLead = new Map<string, HandoffFacts>();
  // Only `opening`'s entries are counted as malformed: `following`'s are another day's.
  const parse = <K extends keyof typeof Details>(type: K, e: Envelope, opens: boolean) => {
    const parsed = Details[type].safeParse(e.detail);
    if (!parsed.success && opens) malformed++;
    return parsed.success ? (parsed.data as z.infer<(typeof Details)[K]>) : undefined;
  };

  // Oldest first, so handoffs exist before what happens to them.
  for (const { e, opens } of inPeriod.sort((a, b) => a.e.at - b.e.at)) {
    const facts =
      e.handoffId !== undefined
        ? byId.get(e.handoffId)
        : e.lead !== undefined
          ? byLead.get(e.lead)
          : undefined;
    switch (e.type) {
      case 'handoff': {
        const d = parse('handoff', e, opens);
        if (!d) break;
        if (e.handoffId === undefined && e.lead === undefined) {
          malformed += opens ? 1 : 0;
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
        // A later handoff is not counted here but still takes its lead's entries from then on.
        if (opens) all.push(f);
        if (e.handoffId !== undefined) byId.set(e.handoffId, f);
        if (e.lead !== undefined) byLead.set(e.lead, f);
        break;
      }
      case 'writeback': {
        const d = parse('writeback', e, opens);
        if (d && facts) facts.speedToLeadMs = d.speedToLeadMs;
        break;
      }
      case 'rep_action': {
        const d = parse('rep_action', e, opens);
        if (!d || !facts || facts.action) break;
        const ownerId = d.ownerId ?? facts.ownerId;
        facts.action = { ownerId, afterMs: d.afterMs, onTime: !facts.breachedBy.has(ownerId) };
        break;
      }
      case 'sla_breach': {
        const d = parse('sla_breach', e, opens);
        if (d && facts && !facts.action) facts.breachedBy.add(d.ownerId ?? facts.ownerId);
        break;
      }
      case 'reassign': {
        const d = parse('reassign', e, opens);
        if (d && facts) facts.ownerId = d.ownerId;
        break;
      }
      case 'stage_moved_on':
        // The CRM had the record at or past the stage already: it was never handed off.
        if (facts && all.includes(facts)) all.splice(all.indexOf(facts), 1);
        break;
      case 'converted':
        if (parse('converted', e, opens) && facts) facts.converted = true;
        break;
      case 'disposition': {
        const d = parse('disposition', e, opens);
        if (!d) break;
        if (facts) facts.disposition = d.action;
        if (opens) dispositions.push({ reason: d.reason ?? '(no reason)', action: d.action });
        break;
      }
      default:
        break;
    }
  }
  return { handoffs: all, dispositions, malformed };
}

/**
 * What a report is made of, exact and mergeable (a day's counters add up with the next day's):
 * JSON, so a day's can be kept once its audit entries are trimmed. Ids and values are keys.
 */
export interface Counters {
  handoffs: number;
  /** Per owner id: handoffs they own, first actions (and how many before a breach of theirs), breaches. */
  owners: Record<string, OwnerCounters>;
  /** Per score: handoffs, and how they ended. */
  scores: Record<string, ScoreCounters>;
  /** Speed to lead in ms, rounded up to 3 significant digits (roundUp3) → handoffs. */
  speed: Record<string, number>;
  /** Reason code → disposition action → how many. */
  reasons: Record<string, Record<string, number>>;
  openBreaches: number;
  malformed: number;
}

interface OwnerCounters {
  handoffs: number;
  acted: number;
  onTime: number;
  breaches: number;
  /** Minutes to first action (rounded, as the report shows the median) → how many. */
  firstActionMin: Record<string, number>;
}

type ScoreCounters = Record<'handoffs' | 'converted' | 'disqualified' | 'recycled', number>;

export function emptyCounters(): Counters {
  return { handoffs: 0, owners: {}, scores: {}, speed: {}, reasons: {}, openBreaches: 0, malformed: 0 };
}

/** Pure: the counters of folded audit entries. */
export function countFolded(folded: Folded): Counters {
  const c = emptyCounters();
  const owner = (id: string) =>
    (c.owners[id] ??= { handoffs: 0, acted: 0, onTime: 0, breaches: 0, firstActionMin: {} });
  const add = (counts: Record<string, number>, key: string | number, n = 1) => {
    counts[key] = (counts[key] ?? 0) + n;
  };
  for (const f of folded.handoffs) {
    c.handoffs++;
    owner(f.ownerId).handoffs++;
    // SLA figures belong to the rep whose clock it was: a breach to who let it lapse, an action to who acted.
    for (const id of f.breachedBy) owner(id).breaches++;
    if (f.action) {
      const o = owner(f.action.ownerId);
      o.acted++;
      if (f.action.onTime) o.onTime++;
      add(o.firstActionMin, Math.round(f.action.afterMs / 60_000));
    }
    const s = (c.scores[f.score] ??= { handoffs: 0, converted: 0, disqualified: 0, recycled: 0 });
    s.handoffs++;
    if (f.converted) s.converted++;
    if (f.disposition === 'disqualify' || f.disposition === 'bad_data') s.disqualified++;
    if (f.disposition === 'recycle') s.recycled++;
    if (f.speedToLeadMs !== undefined) add(c.speed, roundUp3(f.speedToLeadMs));
    if (f.breachedBy.size && !f.action && !f.converted && !f.disposition) c.openBreaches++;
  }
  for (const d of folded.dispositions) add((c.reasons[d.reason] ??= {}), d.action);
  c.malformed = folded.malformed;
  return c;
}

/** Pure: the counters of both (neither is changed). */
export function mergeCounters(a: Counters, b: Counters): Counters {
  const sum = (x: Readonly<Record<string, number>>, y: Readonly<Record<string, number>>) => {
    const out = { ...x };
    for (const [k, n] of Object.entries(y)) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  const merge = <T>(x: Record<string, T>, y: Record<string, T>, both: (p: T, q: T) => T) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = k in out ? both(out[k]!, v) : v;
    return out;
  };
  return {
    handoffs: a.handoffs + b.handoffs,
    owners: merge(a.owners, b.owners, (p, q) => ({
      handoffs: p.handoffs + q.handoffs,
      acted: p.acted + q.acted,
      onTime: p.onTime + q.onTime,
      breaches: p.breaches + q.breaches,
      firstActionMin: sum(p.firstActionMin, q.firstActionMin),
    })),
    scores: merge(a.scores, b.scores, (p, q) => sum(p, q) as ScoreCounters),
    speed: sum(a.speed, b.speed),
    reasons: merge(a.reasons, b.reasons, sum),
    openBreaches: a.openBreaches + b.openBreaches,
    malformed: a.malformed + b.malformed,
  };
}

/**
 * Pure. Speed to lead, SLA compliance per rep, conversion and disqualification by score band and
 * by reason code, and each rep's share of handoffs against their weight, from the audit log.
 */
export function buildReport(entries: readonly AuditEntry[], opts: ReportOptions): Report {
  return summarize(countFolded(foldAudit(entries, opts)), opts);
}

/** Pure: the report of counters, over the period `opts` says they cover. */
export function summarize(c: Counters, opts: ReportOptions): Report {
  const owners = Object.keys(c.owners)
    .filter((id) => c.owners[id]!.handoffs > 0)
    .sort();
  const name = (id: string) => repName(opts.reps, id);
  const owned = (id: string) => c.owners[id]?.handoffs ?? 0;
  const pct = (part: number, whole: number) => (whole ? Math.round((1000 * part) / whole) / 10 : null);
  const ownerList = Object.entries(c.owners);

  const slaPerRep = Object.keys(c.owners)
    .sort()
    .map((id) => {
      const o = c.owners[id]!;
      const median = percentile(sortedCounts(o.firstActionMin), 0.5);
      return {
        owner: name(id),
        handoffs: o.handoffs,
        acted: o.acted,
        breaches: o.breaches,
        compliancePct: pct(o.onTime, o.onTime + o.breaches),
        medianFirstActionMin: median,
      };
    });

  const scores = Object.entries(c.scores).map(([score, s]) => [Number(score), s] as const);
  const byScoreBand = opts.bands.map(([lo, hi]) => {
    const inBand = scores.filter(([score]) => score >= lo && score <= hi).map(([, s]) => s);
    const total = (field: keyof ScoreCounters) => inBand.reduce((n, s) => n + s[field], 0);
    return {
      band: `${lo}–${hi}`,
      handoffs: total('handoffs'),
      converted: total('converted'),
      disqualified: total('disqualified'),
      recycled: total('recycled'),
      conversionPct: pct(total('converted'), total('handoffs')),
    };
  });

  const weights = new Map(opts.reps.filter((r) => r.active).map((r) => [r.id, r.weight]));
  const totalWeight = [...weights.values()].reduce((a, b) => a + b, 0);
  const perRep = [...new Set([...weights.keys(), ...owners])].map((id) => {
    const actualPct = pct(owned(id), c.handoffs) ?? 0;
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

  const onTime = ownerList.reduce((n, [, o]) => n + o.onTime, 0);
  const breaches = ownerList.reduce((n, [, o]) => n + o.breaches, 0);

  const byReason = Object.entries(c.reasons)
    .map(([reason, actions]) => ({
      reason,
      count: Object.values(actions).reduce((a, b) => a + b, 0),
      actions: Object.keys(actions).sort(),
    }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  return {
    period: { from: opts.from ?? null, to: opts.to ?? null },
    handoffs: c.handoffs,
    speedToLead: summarizeSpeedCounts(c.speed),
    slaPerRep,
    byScoreBand,
    byReason,
    unknownReasons: byReason.filter((r) => r.actions.includes('unknown')).map((r) => r.reason),
    perRep,
    slaMetPct: pct(onTime, onTime + breaches),
    openBreaches: c.openBreaches,
    malformed: c.malformed,
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
