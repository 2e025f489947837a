import type { Config } from './schema.js';
import { DAY_MS } from '../domain/time.js';

/** An event worth less than this (half a cent) no longer moves a score rounded to cents. */
const NEGLIGIBLE_POINTS = 0.005;

/**
 * How long Redis keeps what it keeps per lead: event ids (dedupe marks), and a lead's timeline,
 * profile, state and handoffs after they last changed — the longest decay window of the rules (a
 * half-life rule's: until one event is worth under half a cent; a rule without decay: the whole
 * timeline), within `retention.minLeadDays` and `pipeline.timelineDays`. A lead that reappears
 * later is new: its profile is read from the CRM again.
 */
export function retentionTtls(config: Pick<Config, 'pipeline' | 'retention' | 'scoring'>): {
  dedupeMs: number;
  leadMs: number;
} {
  const timelineDays = config.pipeline.timelineDays;
  const decayDays = config.scoring.engagement.map((rule) => {
    if (rule.decay?.windowDays !== undefined) return rule.decay.windowDays;
    if (rule.decay?.halfLifeDays !== undefined)
      return rule.decay.halfLifeDays * Math.log2(Math.max(1, Math.abs(rule.points) / NEGLIGIBLE_POINTS));
    return timelineDays;
  });
  const days = Math.min(timelineDays, Math.max(config.retention.minLeadDays, ...decayDays));
  return { dedupeMs: config.pipeline.dedupeTtlHours * 3_600_000, leadMs: Math.ceil(days * DAY_MS) };
}
