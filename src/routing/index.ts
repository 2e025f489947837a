import type { Rep, Routing, RoutingRule } from '../config/schema.js';
import type { Profile, RoutingDecision } from '../domain/index.js';
import { matches } from '../scoring/index.js';

/** A rep a round-robin pool may pick, with the capacity periods counted in the rep's time zone. */
export interface Candidate {
  id: string;
  weight: number;
  daily?: number;
  weekly?: number;
  /** `d:YYYY-MM-DD` and `w:YYYY-Www` in the rep's time zone. */
  day: string;
  week: string;
}

export type RoutingStep =
  | { ruleId: string; strategy: 'account_owner'; ownerId: string }
  | { ruleId: string; strategy: 'round_robin'; candidates: Candidate[] };

export interface RoutingPlan {
  /** What to try, in order; the first that yields a rep wins. */
  steps: RoutingStep[];
  /** Reps passed over before anything was tried (inactive, out of office, excluded). */
  skipped: RoutingDecision['skipped'];
}

export interface PlanInput {
  profile: Profile;
  routing: Routing;
  /** Who owns a lead of the same company, if anyone. */
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
  // ISO week: the week with the year's first Thursday is week 1.
  const day = new Date(Date.UTC(y, m - 1, d));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil((day.getTime() - yearStart) / 86_400_000 / 7 + 1 / 7);
  return { day: `d:${date}`, week: `w:${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}` };
}

const PERSONAL_DOMAINS =
  /^(gmail\.com|googlemail\.com|yahoo\.[a-z.]+|hotmail\.[a-z.]+|outlook\.[a-z.]+|live\.[a-z.]+|icloud\.com|me\.com|aol\.com|proton\.me|protonmail\.com|gmx\.[a-z.]+|web\.de|mail\.ru|yandex\.[a-z.]+|qq\.com|163\.com)$/;

/** Pure. The company domain of an email address; null for personal mailboxes and anything invalid. */
export function emailDomain(email: unknown): string | null {
  if (typeof email !== 'string') return null;
  const match = /^[^@\s]+@([a-z0-9-]+(\.[a-z0-9-]+)+)$/i.exec(email.trim());
  const domain = match?.[1]?.toLowerCase();
  return domain && !PERSONAL_DOMAINS.test(domain) ? domain : null;
}

/**
 * Pure. Which rules apply to this lead, in order, and who each may pick. An account owner not
 * configured as a rep is still a CRM owner and is taken as is; a configured one must be available.
 */
export function planRouting(input: PlanInput): RoutingPlan {
  const { routing, now, exclude, defaultTimeZone } = input;
  const reps = new Map(routing.reps.map((r) => [r.id, r]));
  const skipped: RoutingDecision['skipped'] = [];
  const usable = (id: string, ruleId: string): boolean => {
    if (exclude.includes(id)) {
      skipped.push({ repId: id, ruleId, why: 'excluded' });
      return false;
    }
    const rep = reps.get(id);
    const state = rep ? availability(rep, now, defaultTimeZone) : 'available';
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
    const candidates = rule.reps
      .filter((id) => usable(id, rule.id))
      .map((id) => {
        const rep = reps.get(id)!;
        return {
          id,
          weight: rep.weight,
          daily: rep.capacity.daily,
          weekly: rep.capacity.weekly,
          ...periods(now, rep.workingHours?.timeZone ?? defaultTimeZone),
        };
      });
    if (candidates.length) steps.push({ ruleId: rule.id, strategy: 'round_robin', candidates });
  }
  return { steps, skipped };
}

/** Pure. One readable sentence for the audit log. */
export function describeDecision(
  routing: Routing,
  decision: Omit<RoutingDecision, 'reason'>,
  domain: string | null,
): string {
  const name = (id: string) => routing.reps.find((r) => r.id === id)?.name ?? `owner ${id}`;
  const weight = (id: string) => routing.reps.find((r) => r.id === id)?.weight ?? 1;
  const chosen = decision.ownerId;
  const head =
    decision.strategy === 'account_owner' && chosen
      ? `rule "${decision.ruleId}": ${name(chosen)} owns ${domain ?? 'the account'}`
      : decision.strategy === 'round_robin' && chosen
        ? `rule "${decision.ruleId}": ${name(chosen)}'s turn in the round robin (weight ${weight(chosen)})`
        : decision.strategy === 'fallback' && chosen
          ? `no rule found an available rep: fallback owner ${name(chosen)}`
          : 'no rule found an available rep and no fallback owner is set: unassigned';
  const passed = decision.skipped.map((s) => `${name(s.repId)} (${s.why.replace(/_/g, ' ')})`);
  return passed.length ? `${head}; passed over ${passed.join(', ')}` : head;
}

const dateFormatters = new Map<string, Intl.DateTimeFormat>();
/** YYYY-MM-DD of an instant in a time zone. */
function localDate(at: number, timeZone: string): string {
  let f = dateFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dateFormatters.set(timeZone, f);
  }
  return f.format(at);
}
