import type { Rep, Routing, RoutingRule } from '../config/schema.js';
import {
  FREE_EMAIL_DOMAINS,
  domainListed,
  domainOf,
  type Profile,
  type RoutingDecision,
} from '../domain/index.js';
import { matches } from '../scoring/index.js';
import { DAY_MS } from '../domain/time.js';

/** A rep a round-robin pool may pick, with the capacity periods resolved in the rep's time zone. */
export interface Candidate {
  id: string;
  weight: number;
  daily?: number;
  weekly?: number;
  /** `d:YYYY-MM-DD` and `w:YYYY-Www` in the rep's time zone. */
  day: string;
  week: string;
}

/**
 * One thing to try. An account-owner or fallback step names its owner; a round-robin step leaves
 * the pick (by turn and capacity) to the store, with the rule id as the pool.
 */
export type RoutingStep =
  | { ruleId: string; strategy: 'account_owner' | 'fallback'; ownerId: string }
  | { ruleId: string; strategy: 'round_robin'; candidates: Candidate[] };

export interface RoutingPlan {
  /** What to try, in order; the first that yields a rep wins. The fallback, if set, is last. */
  steps: RoutingStep[];
  /** Reps passed over before anything was tried (inactive, out of office, excluded), in rule order. */
  skipped: RoutingDecision['skipped'];
}

export interface PlanInput {
  profile: Profile;
  routing: Routing;
  /** Who owns leads of the same company, if anyone. */
  accountOwnerId: string | null;
  now: number;
  /** Reps that must not get the lead (e.g. the one who let the SLA lapse). */
  exclude: readonly string[];
  /** For reps without their own working hours. */
  defaultTimeZone: string;
}

/** Pure. Every `when` matcher matches its profile field (no matchers: always). */
export function ruleApplies(rule: RoutingRule, profile: Profile): boolean {
  return Object.entries(rule.when).every(([field, matcher]) =>
    matches(matcher, Object.hasOwn(profile, field) ? profile[field] : undefined),
  );
}

/** Pure. Whether a rep can take a lead now; absences are whole days in the rep's time zone. */
export function availability(
  rep: Rep,
  now: number,
  defaultTimeZone: string,
): 'available' | 'inactive' | 'out_of_office' {
  if (!rep.active) return 'inactive';
  const today = localDate(now, rep.workingHours?.timeZone ?? defaultTimeZone);
  return rep.outOfOffice.some((o) => o.from <= today && today <= o.to) ? 'out_of_office' : 'available';
}

/** Pure. The capacity periods `now` falls in, in a time zone: `d:2026-11-24` and ISO week `w:2026-W48`. */
export function periods(now: number, timeZone: string): { day: string; week: string } {
  const date = localDate(now, timeZone);
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  // An ISO week belongs to the year of its Thursday; week 1 holds the year's first Thursday.
  const thursday = new Date(Date.UTC(y, m - 1, d));
  thursday.setUTCDate(d + 4 - (thursday.getUTCDay() || 7));
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS / 7) + 1;
  return { day: `d:${date}`, week: `w:${year}-W${String(week).padStart(2, '0')}` };
}

/** Pure. The company domain of an email address; null for personal mailboxes and anything invalid. */
export function emailDomain(email: unknown): string | null {
  const domain = domainOf(email);
  return domain && !domainListed(domain, FREE_EMAIL_DOMAINS) ? domain : null;
}

/**
 * Pure. Which rules apply to this lead, in order, and who each may pick, then the fallback owner.
 * An account owner not configured as a rep is still a CRM owner and is taken as is; a configured
 * one must be available. The fallback owner is not subject to availability or exclusion.
 */
export function planRouting(input: PlanInput): RoutingPlan {
  const { routing, now, exclude, defaultTimeZone } = input;
  const reps = new Map(routing.reps.map((r) => [r.id, r]));
  const skipped: RoutingDecision['skipped'] = [];
  const usable = (id: string, ruleId: string): boolean => {
    const rep = reps.get(id);
    const state = exclude.includes(id)
      ? 'excluded'
      : rep
        ? availability(rep, now, defaultTimeZone)
        : 'available';
    if (state !== 'available') skipped.push({ repId: id, ruleId, why: state });
    return state === 'available';
  };

  const steps: RoutingStep[] = [];
  for (const rule of routing.rules) {
    if (!ruleApplies(rule, input.profile)) continue;
    if (rule.strategy === 'account_owner') {
      if (input.accountOwnerId && usable(input.accountOwnerId, rule.id))
        steps.push({ ruleId: rule.id, strategy: 'account_owner', ownerId: input.accountOwnerId });
      continue;
    }
    // The config check guarantees every listed rep is configured.
    const candidates = rule.reps.flatMap((id) => {
      const rep = reps.get(id);
      if (!rep || !usable(id, rule.id)) return [];
      const tz = rep.workingHours?.timeZone ?? defaultTimeZone;
      return [{ id, weight: rep.weight, ...rep.capacity, ...periods(now, tz) }];
    });
    if (candidates.length) steps.push({ ruleId: rule.id, strategy: 'round_robin', candidates });
  }
  if (routing.fallbackOwnerId)
    steps.push({ ruleId: 'fallback', strategy: 'fallback', ownerId: routing.fallbackOwnerId });
  return { steps, skipped };
}

export interface DecisionInput {
  routing: Routing;
  plan: RoutingPlan;
  /** The step that yielded an owner and who; null when none did. */
  chosen: { ruleId: string; strategy: RoutingStep['strategy']; ownerId: string } | null;
  /** Reps round-robin steps passed over for being at their cap, in the order tried. */
  atCapacity: RoutingDecision['skipped'];
  /** The lead's company domain, for the sentence. */
  domain: string | null;
}

/**
 * Pure. The decision, with one readable sentence for the audit log. Only reps passed over up to
 * the rule that chose are listed: later rules were never tried.
 */
export function describeDecision({
  routing,
  plan,
  chosen,
  atCapacity,
  domain,
}: DecisionInput): RoutingDecision {
  const order = new Map(routing.rules.map((r, i) => [r.id, i]));
  const rank = (ruleId: string) => order.get(ruleId) ?? Infinity;
  const upTo = chosen ? rank(chosen.ruleId) : Infinity;
  const skipped = [...plan.skipped, ...atCapacity]
    .filter((s) => rank(s.ruleId) <= upTo)
    .sort((a, b) => rank(a.ruleId) - rank(b.ruleId));

  const rep = (id: string) => routing.reps.find((r) => r.id === id);
  const name = (id: string) => rep(id)?.name ?? `owner ${id}`;
  const head = !chosen
    ? 'no rule yielded an available rep and no fallback owner is set: unassigned'
    : chosen.strategy === 'account_owner'
      ? `account owner "${chosen.ruleId}": ${name(chosen.ownerId)} owns ${domain ?? 'the account'}`
      : chosen.strategy === 'round_robin'
        ? `round robin "${chosen.ruleId}" (weight ${rep(chosen.ownerId)?.weight ?? 1}): ${name(chosen.ownerId)}'s turn`
        : `no rule yielded an available rep: fallback to ${name(chosen.ownerId)}`;
  // A rep skipped by several rules for the same reason is named once.
  const passed = new Set(skipped.map((s) => `${name(s.repId)} (${s.why.replace(/_/g, ' ')})`));
  return {
    ownerId: chosen?.ownerId ?? null,
    ruleId: chosen?.ruleId ?? null,
    strategy: chosen?.strategy ?? 'none',
    reason: passed.size ? `${head}; skipped ${[...passed].join(', ')}` : head,
    skipped,
  };
}

const dateFormatters = new Map<string, Intl.DateTimeFormat>();
/** YYYY-MM-DD of an instant in a time zone (from parts: locale patterns vary across ICU versions). */
function localDate(at: number, timeZone: string): string {
  let f = dateFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dateFormatters.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(at).map(({ type, value }) => [type, value]));
  return `${p.year}-${p.month}-${p.day}`;
}
