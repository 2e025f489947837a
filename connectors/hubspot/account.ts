import { z } from 'zod';
import { wallClock, zoneOffset } from '../../src/domain/time.js';

/** The slice of `GET /account-info/v3/details` we rely on: an IANA zone such as "US/Eastern". */
export const AccountDetails = z.object({ timeZone: z.string().min(1) });

/**
 * Pure: the first midnight after `now` in `timeZone` (epoch ms), when HubSpot resets a portal's daily
 * API limit. The offset is taken at that midnight, not now, so a DST change during the day counts.
 * Throws a RangeError for a zone the runtime does not know.
 */
export function nextMidnight(timeZone: string, now: number): number {
  const local = new Date(wallClock(timeZone, now));
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 1);
  const guess = midnight - zoneOffset(timeZone, now);
  return midnight - zoneOffset(timeZone, guess);
}
