import { z } from 'zod';

/** The slice of `GET /account-info/v3/details` we rely on: an IANA zone such as "US/Eastern". */
export const AccountDetails = z.object({ timeZone: z.string().min(1) });

const clocks = new Map<string, Intl.DateTimeFormat>();

/** The zone's wall-clock time at `at`, to the second, written as if it were UTC. */
function wallClock(timeZone: string, at: number): number {
  let clock = clocks.get(timeZone);
  if (!clock) {
    clock = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    clocks.set(timeZone, clock);
  }
  const p = Object.fromEntries(clock.formatToParts(at).map((part) => [part.type, Number(part.value)]));
  return Date.UTC(p.year!, p.month! - 1, p.day, p.hour, p.minute, p.second);
}

/** How far the zone's clock is ahead of UTC at `at` (ms). */
function offset(timeZone: string, at: number): number {
  return wallClock(timeZone, at) - Math.floor(at / 1000) * 1000;
}

/**
 * Pure: the first midnight after `now` in `timeZone` (epoch ms), when HubSpot resets a portal's daily
 * API limit. The offset is taken at that midnight, not now, so a DST change during the day counts.
 * Throws a RangeError for a zone the runtime does not know.
 */
export function nextMidnight(timeZone: string, now: number): number {
  const local = new Date(wallClock(timeZone, now));
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 1);
  const guess = midnight - offset(timeZone, now);
  return midnight - offset(timeZone, guess);
}
