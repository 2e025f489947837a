import type { EngagementRule, FitRule, Scoring } from '../config/schema.js';
import type {
  EngagementEvent,
  HistoryBucket,
  Profile,
  PropertyValue,
  Score,
  ScoreLine,
} from '../domain/index.js';
import { compiledMatcher, describeMatcher, matches, type MatchFn } from './match.js';
import { DAY_MS } from '../domain/time.js';

/** Each half of the score may go this far below zero, so a strong negative signal can outweigh the other half. */
const FLOOR = -100;

interface CompiledFit {
  fieldLabel: string;
  label: string;
}

interface CompiledEngagement {
  where: readonly (readonly [string, MatchFn])[];
  /** ln(0.5) / half-life in ms, so the factor is exp(age × rate); 0 when the rule has no half-life. */
  decayRate: number;
  /** Infinity when the rule has no window. */
  windowMs: number;
  label: string;
  /** The key its folded history is kept under (HistoryBucket.rule). */
  historyKey: string;
}

// Rules come from a parsed config that is never mutated, so derived data is computed once per rule object.
const fitCache = new WeakMap<FitRule, CompiledFit>();
const engagementCache = new WeakMap<EngagementRule, CompiledEngagement>();

/**
 * Pure: the same profile, set of events (by id), rules and `now` always give the same score,
 * whatever the order or repetition of events. `history` is what a long timeline folded (see
 * foldHistory): it counts as the events it holds did, exactly under half-life decay; under a
 * window a day's bucket counts whole while its newest event is inside.
 *
 * The breakdown is the source of truth: the sum of fit lines, clamped to [-100, caps.fit], is
 * `fit`; the sum of engagement lines (rounded to cents), clamped to [-100, caps.engagement], is
 * `engagement`; `total` is their sum clamped to 0–100 and rounded. A category cap or the final
 * clamp shows as a difference between the lines' sum and the reported figure.
 */
export function computeScore(
  profile: Profile,
  events: readonly EngagementEvent[],
  rules: Scoring,
  now: number,
  history: readonly HistoryBucket[] = [],
): Score {
  const breakdown: ScoreLine[] = [];

  let fitSum = 0;
  for (const rule of rules.fit) {
    if (rule.points === 0) continue;
    const value = own(profile, rule.field);
    if (!matches(rule.match, value)) continue;
    const points = round2(rule.points);
    const c = compiledFit(rule);
    fitSum += points;
    breakdown.push({
      ruleId: rule.id,
      kind: 'fit',
      points,
      reason: `${c.fieldLabel} ${formatValue(value)} matches ${c.label} (${signed(points)})`,
      eventIds: [],
      capped: false,
    });
  }

  let engagementSum = 0;
  if (rules.engagement.length > 0 && (events.length > 0 || history.length > 0)) {
    const byType = eventsByType(events);
    const byRule = bucketsByRule(history);
    for (const rule of rules.engagement) {
      const ofType = byType.get(rule.event);
      const folded = byRule.get(compiledEngagement(rule).historyKey);
      if (ofType === undefined && folded === undefined) continue;
      const line = engagementLine(rule, ofType ?? [], folded ?? [], now);
      if (line === null) continue;
      engagementSum += line.points;
      breakdown.push(line);
    }
  }

  if (breakdown.length > 1) breakdown.sort(byImpact);
  return { ...totals(fitSum, engagementSum, rules.caps), breakdown, computedAt: now };
}

/** The category caps and the final clamp over the lines' sums, as the breakdown documents them. */
function totals(fitSum: number, engagementSum: number, caps: Scoring['caps']) {
  const fit = clamp(round2(fitSum), FLOOR, caps.fit) + 0;
  const engagement = clamp(round2(engagementSum), FLOOR, caps.engagement) + 0;
  return { fit, engagement, total: Math.round(clamp(fit + engagement, 0, 100)) + 0 };
}

/** Running state of one engagement rule: its decayed sum and how many events count. */
interface RuleAccumulator {
  rule: EngagementRule;
  c: CompiledEngagement;
  sum: number;
  count: number;
  last: number;
  /** Windowed rules: times of the events still inside the window, oldest first from `head`. */
  times: number[];
  head: number;
}

/**
 * The score of one lead after each new event, kept incrementally instead of rescored from its whole
 * timeline (a replay of a long export): a half-life sum decays by exp(rate × Δt) between events, a
 * window drops what left it. Events must come oldest first, each id once. The figures equal
 * `computeScore` over the events seen so far at the newest one's time (up to float rounding far
 * below cents); there is no breakdown.
 */
export class IncrementalScore {
  private readonly accumulators: RuleAccumulator[];
  private readonly fitSum: number;

  constructor(
    profile: Profile,
    private readonly rules: Scoring,
  ) {
    this.fitSum = computeScore(profile, [], { ...rules, engagement: [] }, 0).breakdown.reduce(
      (n, l) => n + l.points,
      0,
    );
    this.accumulators = rules.engagement
      .filter((rule) => rule.points !== 0)
      .map((rule) => ({ rule, c: compiledEngagement(rule), sum: 0, count: 0, last: 0, times: [], head: 0 }));
  }

  /** Adds an event (`counts: false`: a repeat of one seen, only the clock moves) and returns the score as of its time. */
  add(e: EngagementEvent, counts = true): Omit<Score, 'breakdown'> & { breakdown: [] } {
    const now = e.occurredAt;
    let engagementSum = 0;
    for (const a of this.accumulators) {
      const { rule, c } = a;
      if (c.decayRate !== 0 && a.count > 0) a.sum *= Math.exp((now - a.last) * c.decayRate);
      if (c.windowMs !== Infinity) {
        while (a.head < a.times.length && now - a.times[a.head]! > c.windowMs) a.head++;
        a.count = a.times.length - a.head;
        a.sum = a.count * rule.points;
      }
      if (counts && e.type === rule.event && whereMatches(c.where, e.properties)) {
        a.sum += rule.points;
        a.count++;
        if (c.windowMs !== Infinity) a.times.push(now);
      }
      a.last = now;
      if (a.count === 0) continue;
      const capped =
        rule.cap !== undefined && Math.abs(a.sum) > rule.cap ? Math.sign(a.sum) * rule.cap : a.sum;
      engagementSum += round2(capped);
    }
    return { ...totals(this.fitSum, engagementSum, this.rules.caps), breakdown: [], computedAt: now };
  }
}

function engagementLine(
  rule: EngagementRule,
  timeline: readonly EngagementEvent[],
  folded: readonly HistoryBucket[],
  now: number,
): ScoreLine | null {
  if (rule.points === 0) return null;
  const c = compiledEngagement(rule);
  let sum = 0;
  let count = 0;
  let oldestAge = 0;
  // Folded buckets are older than every event still on the timeline, and come oldest first.
  for (const b of folded) {
    if (now - b.hi > c.windowMs) continue;
    // exp((now − day)·rate) · Σ exp((day − t)·rate) = Σ exp((now − t)·rate): each event's own factor.
    const weight = c.decayRate !== 0 ? Math.exp((now - b.day) * c.decayRate) * b.w : b.n;
    sum += rule.points * weight;
    if (count === 0) oldestAge = now > b.lo ? now - b.lo : 0;
    count += b.n;
  }
  const eventIds: string[] = [];
  for (const e of timeline) {
    if (!whereMatches(c.where, e.properties)) continue;
    const age = now > e.occurredAt ? now - e.occurredAt : 0;
    if (age > c.windowMs) continue;
    // Equals 0.5^(age/halfLife) far below the rounding to cents, and exp is ~3× faster than Math.pow.
    const factor = c.decayRate !== 0 ? Math.exp(age * c.decayRate) : 1;
    if (factor === 0) continue;
    sum += rule.points * factor;
    // The timeline is oldest first, so the first contributing event is the oldest.
    if (count === 0) oldestAge = age;
    count++;
    eventIds.push(e.id);
  }
  if (count === 0) return null;

  let capped = false;
  if (rule.cap !== undefined && Math.abs(sum) > rule.cap) {
    sum = sum < 0 ? -rule.cap : rule.cap;
    capped = true;
  }
  const points = round2(sum) + 0;
  if (points === 0) return null;

  const days = Math.max(1, Math.ceil(oldestAge / DAY_MS));
  const cap = capped ? ` (capped at ${sum < 0 ? '-' : ''}${rule.cap})` : '';
  return {
    ruleId: rule.id,
    kind: 'engagement',
    points,
    reason: `${count}× ${c.label} in the last ${days} ${days === 1 ? 'day' : 'days'}: ${signed(points)}${cap}`,
    eventIds,
    capped,
  };
}

function whereMatches(
  where: readonly (readonly [string, MatchFn])[],
  properties: Record<string, PropertyValue> | undefined,
): boolean {
  for (const [key, test] of where) {
    if (properties === undefined || !test(own(properties, key))) return false;
  }
  return true;
}

/**
 * One event per id, oldest first (ties by id). Of two events sharing an id, the earlier one wins,
 * then the one with the smaller JSON, so neither input order nor redelivery changes anything.
 */
function eventsByType(events: readonly EngagementEvent[]): Map<string, EngagementEvent[]> {
  // Timelines usually arrive in order already; then neither a copy nor a sort is needed.
  const sorted = isOrdered(events) ? events : events.slice().sort(byTimeThenId);
  const seen = new Set<string>();
  const byType = new Map<string, EngagementEvent[]>();
  for (const e of sorted) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const group = byType.get(e.type);
    if (group === undefined) byType.set(e.type, [e]);
    else group.push(e);
  }
  return byType;
}

/** Buckets per rule key, oldest day first. */
function bucketsByRule(history: readonly HistoryBucket[]): Map<string, HistoryBucket[]> {
  const byRule = new Map<string, HistoryBucket[]>();
  for (const b of history) {
    const group = byRule.get(b.rule);
    if (group === undefined) byRule.set(b.rule, [b]);
    else group.push(b);
  }
  for (const group of byRule.values()) if (group.length > 1) group.sort((a, b) => a.day - b.day);
  return byRule;
}

/**
 * Pure: the buckets `events` fold into under `rules`, one per matching rule and UTC day (an event
 * two rules count is in both, one no rule counts in none). Only past events may be folded: the
 * engine counts an event from the future at full weight, a bucket decays from its day on.
 */
export function foldHistory(events: readonly EngagementEvent[], rules: Scoring): HistoryBucket[] {
  const buckets = new Map<string, HistoryBucket>();
  for (const [type, ofType] of eventsByType(events)) {
    for (const rule of rules.engagement) {
      if (rule.event !== type || rule.points === 0) continue;
      const c = compiledEngagement(rule);
      for (const e of ofType) {
        if (!whereMatches(c.where, e.properties)) continue;
        const day = Math.floor(e.occurredAt / DAY_MS) * DAY_MS;
        const w = c.decayRate !== 0 ? Math.exp((day - e.occurredAt) * c.decayRate) : 1;
        const key = `${c.historyKey}|${day}`;
        const b = buckets.get(key);
        if (b === undefined)
          buckets.set(key, { rule: c.historyKey, day, n: 1, w, lo: e.occurredAt, hi: e.occurredAt });
        else {
          b.n++;
          b.w += w;
          b.lo = Math.min(b.lo, e.occurredAt);
          b.hi = Math.max(b.hi, e.occurredAt);
        }
      }
    }
  }
  return [...buckets.values()];
}

/** FNV-1a, base 36: a short stable name for a rule's matching and decay. */
function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

function isOrdered(events: readonly EngagementEvent[]): boolean {
  for (let i = 1; i < events.length; i++) if (byTimeThenId(events[i - 1]!, events[i]!) > 0) return false;
  return true;
}

function byTimeThenId(a: EngagementEvent, b: EngagementEvent): number {
  if (a.occurredAt !== b.occurredAt) return a.occurredAt - b.occurredAt;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  if (a === b) return 0;
  const ja = JSON.stringify(a);
  const jb = JSON.stringify(b);
  return ja < jb ? -1 : ja > jb ? 1 : 0;
}

function byImpact(a: ScoreLine, b: ScoreLine): number {
  const d = Math.abs(b.points) - Math.abs(a.points);
  if (d !== 0) return d;
  return a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0;
}

function compiledFit(rule: FitRule): CompiledFit {
  let c = fitCache.get(rule);
  if (c === undefined) {
    c = { fieldLabel: humanize(rule.field), label: rule.description ?? rule.id };
    fitCache.set(rule, c);
  }
  return c;
}

function compiledEngagement(rule: EngagementRule): CompiledEngagement {
  let c = engagementCache.get(rule);
  if (c === undefined) {
    const entries = Object.entries(rule.where ?? {});
    const conditions = entries.map(([key, m]) => describeMatcher(key, m)).join(', ');
    c = {
      where: entries.map(([key, m]) => [key, compiledMatcher(m)] as const),
      decayRate: rule.decay?.halfLifeDays !== undefined ? -Math.LN2 / (rule.decay.halfLifeDays * DAY_MS) : 0,
      windowMs: rule.decay?.windowDays !== undefined ? rule.decay.windowDays * DAY_MS : Infinity,
      label: rule.description ?? (conditions ? `${rule.event} (${conditions})` : rule.event),
      historyKey: `${rule.id}#${fingerprint(JSON.stringify([rule.event, rule.where ?? {}, rule.decay ?? {}]))}`,
    };
    engagementCache.set(rule, c);
  }
  return c;
}

/**
 * A property value, or undefined if it is not one: a field named `constructor` must not find
 * Object.prototype's. A type check is much cheaper than Object.hasOwn in this hot path.
 */
function own(record: Record<string, PropertyValue>, key: string): PropertyValue | undefined {
  const v: unknown = record[key];
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null
    ? v
    : undefined;
}

/** `jobTitle` → `Job title`, `company_size` → `Company size`. */
function humanize(field: string): string {
  const words = field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_.-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function formatValue(value: PropertyValue | undefined): string {
  if (typeof value !== 'string') return String(value);
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 59)}…` : value);
}

function signed(points: number): string {
  return points > 0 ? `+${points}` : String(points);
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function clamp(n: number, lo: number, hi: number): number {
  return n < lo ? lo : n > hi ? hi : n;
}
