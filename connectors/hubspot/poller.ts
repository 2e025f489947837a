import type { HubSpotPolling } from '../../src/config/schema.js';
import type { EngagementEvent, LeadRef, ProfileChange } from '../../src/domain/index.js';
import type { EngagementSource, PolledPage } from '../types.js';
import { SEARCH_RESULTS_MAX, type EmailEvent, type HubSpotReads } from './reads.js';

/** HubSpot's reporting APIs settle late: each window starts this far before the last one ended. */
export const POLL_OVERLAP_MS = 60_000;
/** The contacts search lags behind writes; `hubspot.polling.contacts.overlapSeconds` overrides this. */
export const SEARCH_OVERLAP_SECONDS = 60;

/**
 * The HubSpot pollers: contacts modified since the watermark (search API, windows split below
 * its 10,000-result cap), marketing email events, submissions of the configured forms, and
 * participations in the configured marketing events. Each
 * page comes with the watermark that may be stored once it is queued; event ids are HubSpot's own,
 * so a page read twice records nothing twice.
 */
export class HubSpotPoller implements EngagementSource {
  constructor(
    private readonly hubspot: HubSpotReads,
    private readonly polling: HubSpotPolling,
  ) {}

  poll(source: string, watermark: number, now: number): AsyncIterable<PolledPage> {
    switch (source) {
      case 'contacts':
        return this.contacts(watermark);
      case 'emailEvents':
        return this.emailEvents(watermark, now);
      case 'forms':
        return this.forms(watermark, now);
      case 'marketingEvents':
        return this.marketingEvents(watermark, now);
      default:
        throw new Error(`unknown HubSpot poll source "${source}"`);
    }
  }

  /**
   * Oldest first, so the watermark is the newest modification of each queued page. The first window
   * starts an overlap before the watermark, for changes the search index had not shown yet; their
   * ids (contact, field, modification time) make a change read twice count once.
   */
  private async *contacts(since: number): AsyncIterable<PolledPage> {
    const overlapSeconds = this.polling.contacts?.overlapSeconds ?? SEARCH_OVERLAP_SECONDS;
    let windowStart = since - overlapSeconds * 1000;
    let after: string | undefined;
    let read = 0;
    let watermark = since;
    for (;;) {
      const page = await this.hubspot.searchModifiedContacts(windowStart, after);
      const profile: ProfileChange[] = page.contacts.flatMap(({ lead, profile: values, modifiedAt }) =>
        Object.entries(values).map(([field, value]) => ({
          id: `hubspot:poll:${lead.id}:${field}:${modifiedAt}`,
          lead,
          field,
          value,
          occurredAt: modifiedAt,
          source: 'hubspot.poll',
        })),
      );
      for (const c of page.contacts) watermark = Math.max(watermark, c.modifiedAt);
      yield { events: [], profile, watermark };
      read += page.contacts.length;
      if (!page.next) return;
      // Past 10,000 results HubSpot refuses the cursor: start a new query from the newest seen.
      if (read + page.contacts.length >= SEARCH_RESULTS_MAX) {
        if (watermark === windowStart)
          throw new Error(
            `more than ${SEARCH_RESULTS_MAX} contacts modified at the same millisecond ${windowStart}`,
          );
        windowStart = watermark;
        after = undefined;
        read = 0;
      } else after = page.next;
    }
  }

  /** The window [since, now) is read whole; the watermark moves only after its last page. */
  private async *emailEvents(since: number, now: number): AsyncIterable<PolledPage> {
    const types = this.polling.emailEvents?.types ?? {};
    let offset: string | undefined;
    do {
      const page = await this.hubspot.emailEvents(since - POLL_OVERLAP_MS, now, offset);
      const wanted = page.events.filter(
        (e) => types[e.type as keyof typeof types] && (e.type !== 'STATUSCHANGE' || isUnsubscribe(e)),
      );
      const leads = await this.leadsByEmail(wanted.map((e) => e.recipient));
      const events: EngagementEvent[] = wanted.flatMap((e) => {
        const lead = leads.get(e.recipient.toLowerCase());
        if (!lead) return [];
        const properties: EngagementEvent['properties'] = {};
        if (e.url) properties.url = e.url;
        if (e.emailCampaignId !== undefined) properties.campaign = String(e.emailCampaignId);
        return [
          {
            id: `hubspot:email:${e.id}`,
            lead,
            type: types[e.type as keyof typeof types]!,
            occurredAt: e.created,
            source: 'hubspot.poll',
            properties,
          },
        ];
      });
      offset = page.next;
      // Recipients who are no contact (yet) and odd events: counted, so a mismatch shows.
      yield {
        events,
        profile: [],
        watermark: offset ? since : now,
        skipped: page.skipped + wanted.length - events.length,
      };
    } while (offset);
  }

  /** Newest first per form, down to the watermark; the submitted values ride along for the note. */
  private async *forms(since: number, now: number): AsyncIterable<PolledPage> {
    const forms = this.polling.forms?.forms ?? [];
    for (const [i, form] of forms.entries()) {
      let after: string | undefined;
      do {
        const page = await this.hubspot.formSubmissions(form.guid, after);
        const fresh = page.submissions.filter((s) => s.submittedAt > since - POLL_OVERLAP_MS);
        const leads = await this.leadsByEmail(fresh.flatMap((s) => (s.values.email ? [s.values.email] : [])));
        const events: EngagementEvent[] = fresh.flatMap((s) => {
          const email = s.values.email?.toLowerCase();
          const lead = email ? leads.get(email) : undefined;
          if (!email || !lead) return [];
          const answers = Object.fromEntries(Object.entries(s.values).filter(([name]) => name !== 'email'));
          return [
            {
              id: `hubspot:form:${form.guid}:${s.submittedAt}:${email}`,
              lead,
              type: form.event,
              occurredAt: s.submittedAt,
              source: 'hubspot.poll',
              properties: { form: form.name, ...(s.pageUrl ? { page: s.pageUrl } : {}), ...answers },
            },
          ];
        });
        // Older than the window: the rest of this form was read by an earlier poll.
        after = fresh.length === page.submissions.length ? page.next : undefined;
        const last = i === forms.length - 1 && !after;
        yield { events, profile: [], watermark: last ? now : since };
      } while (after);
    }
  }

  /** Every participation of each configured event, kept if it happened since the watermark. */
  private async *marketingEvents(since: number, now: number): AsyncIterable<PolledPage> {
    const config = this.polling.marketingEvents;
    const events = config?.events ?? [];
    for (const [i, event] of events.entries()) {
      let after: string | undefined;
      do {
        const page = await this.hubspot.eventParticipations(
          event.externalAccountId,
          event.externalEventId,
          after,
        );
        const found: EngagementEvent[] = page.participations.flatMap((p) => {
          const type = config?.states[p.state];
          if (!type || p.occurredAt <= since - POLL_OVERLAP_MS) return [];
          return [
            {
              id: `hubspot:participation:${p.id}:${p.state}`,
              lead: { crm: 'hubspot' as const, objectType: 'contact' as const, id: p.contactId },
              type,
              occurredAt: p.occurredAt,
              source: 'hubspot.poll',
              properties: { webinar: event.name },
            },
          ];
        });
        after = page.next;
        const last = i === events.length - 1 && !after;
        yield { events: found, profile: [], watermark: last ? now : since };
      } while (after);
    }
  }

  private async leadsByEmail(emails: string[]): Promise<Map<string, LeadRef>> {
    const unique = [...new Set(emails.map((e) => e.toLowerCase()))];
    const ids = unique.length ? await this.hubspot.contactIdsByEmail(unique) : new Map<string, string>();
    return new Map(
      [...ids].map(([email, id]) => [email, { crm: 'hubspot' as const, objectType: 'contact' as const, id }]),
    );
  }
}

/**
 * A STATUSCHANGE covers subscription changes in both directions (v1 email events docs): only a change
 * to UNSUBSCRIBED, for the portal or for a subscription type, is an unsubscribe.
 */
function isUnsubscribe(e: EmailEvent): boolean {
  return (
    e.portalSubscriptionStatus === 'UNSUBSCRIBED' ||
    (e.subscriptions ?? []).some((s) => s.status === 'UNSUBSCRIBED')
  );
}
