import { z } from 'zod';
import { wallClock, zoneOffset } from '../../src/domain/time.js';

/**
 * The slice of `GET /account-info/v3/details` we rely on: an IANA zone such as "US/Eastern", and the
 * portal id and web app domain (`app.hubspot.com`, `app-eu1.hubspot.com`) that record links need.
 */
export const AccountDetails = z.object({
  timeZone: z.string().min(1),
  portalId: z.number().int().positive(),
  uiDomain: z
    .string()
    .regex(/^[a-z0-9.-]+$/i)
    .default('app.hubspot.com'),
});
export type AccountDetails = z.infer<typeof AccountDetails>;

/** Pure: a contact's page in HubSpot's web app. */
export function contactUrl(details: AccountDetails, contactId: string): string {
  return `https://${details.uiDomain}/contacts/${details.portalId}/record/0-1/${encodeURIComponent(contactId)}`;
}

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
