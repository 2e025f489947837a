import { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js';
import { z } from 'zod';
import type { LeadRef, Profile } from '../../src/domain/index.js';
import { HubSpotApi, toMillis } from './api.js';

/** A batch read takes at most 100 ids. */
const BATCH_MAX = 100;

/**
 * HubSpot's engagement reads, for the poller (poller.ts) and `config check`'s scope probes (check.ts):
 * contacts modified since a time, marketing email events, form submissions and marketing event
 * participations; and for the probes only, contact properties, notes and the unsubscribe-all status.
 */
export abstract class HubSpotReads extends HubSpotApi {
  /**
   * One page (≤ 200) of contacts modified at or after `since`, oldest first, with the mapped
   * properties and their modification time. Paced by the separate search budget as well.
   */
  async searchModifiedContacts(since: number, after: string | undefined): Promise<ModifiedContactsPage> {
    // Search's own budget is taken last, just before the request, so a wait for the general budget
    // cannot bunch searches into one second.
    const page = await this.call(
      'contacts.search',
      'search modified contacts',
      async () => {
        return this.client.crm.contacts.searchApi.doSearch(
          {
            filterGroups: [
              {
                filters: [
                  {
                    propertyName: 'lastmodifieddate',
                    operator: FilterOperatorEnum.Gte,
                    value: String(since),
                  },
                ],
              },
            ],
            // The SDK types sorts as strings, but HubSpot wants objects and the SDK passes them through
            // (HubSpot/hubspot-api-nodejs#559).
            sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }] as unknown as string[],
            properties: [...this.profileProperties(), 'lastmodifieddate'],
            limit: SEARCH_PAGE,
            after: after ?? '0',
          },
          this.sdk,
        );
      },
      this.searchBudget,
    );
    return {
      contacts: page.results.map((c) => ({
        lead: { crm: 'hubspot' as const, objectType: 'contact' as const, id: c.id },
        profile: this.toProfile(c.properties),
        modifiedAt: toMillis(c.properties.lastmodifieddate) ?? c.updatedAt.getTime(),
      })),
      next: page.paging?.next?.after,
    };
  }

  /**
   * How many contacts there are: a search without filters answers with the `total` of all matches
   * (one result asked for, so it reads next to nothing). Search lags writes by seconds: a backfill's
   * estimate, not a census.
   */
  async countLeads(): Promise<number> {
    const page = await this.call(
      'contacts.search',
      'count contacts',
      () =>
        this.client.crm.contacts.searchApi.doSearch(
          { filterGroups: [], sorts: [], properties: ['hs_object_id'], limit: 1, after: '0' },
          this.sdk,
        ),
      this.searchBudget,
    );
    return page.total;
  }

  /** Marketing email events in [since, until), one page at a time. */
  async emailEvents(since: number, until: number, offset: string | undefined): Promise<EmailEventsPage> {
    const query = new URLSearchParams({
      startTimestamp: String(since),
      endTimestamp: String(until),
      limit: '1000',
    });
    if (offset) query.set('offset', offset);
    const body = await this.callJson(
      'email.events',
      'read email events',
      `/email/public/v1/events?${query.toString()}`,
    );
    const page = EmailEventsResponse.parse(body);
    // One odd event (UNBOUNCE has no type or recipient) must not fail the page and stall the window.
    const events = page.events.flatMap((e) => {
      const parsed = EmailEvent.safeParse(e);
      return parsed.success ? [parsed.data] : [];
    });
    return {
      events,
      skipped: page.events.length - events.length,
      next: page.hasMore && page.offset ? page.offset : undefined,
    };
  }

  /** Submissions of one form, newest first, one page (≤ 50) at a time. */
  async formSubmissions(guid: string, after: string | undefined): Promise<FormSubmissionsPage> {
    const query = new URLSearchParams({ limit: '50' });
    if (after) query.set('after', after);
    const body = await this.callJson(
      'forms.submissions',
      `read submissions of form ${guid}`,
      `/form-integrations/v1/submissions/forms/${encodeURIComponent(guid)}?${query.toString()}`,
    );
    const page = FormSubmissionsResponse.parse(body);
    return {
      submissions: page.results.map((r) => ({
        submittedAt: r.submittedAt,
        pageUrl: r.pageUrl,
        values: Object.fromEntries(r.values.map((v) => [v.name, v.value])),
      })),
      next: page.paging?.next?.after,
    };
  }

  /** Participations in one marketing event, one page at a time. */
  async eventParticipations(
    externalAccountId: string,
    externalEventId: string,
    after: string | undefined,
  ): Promise<ParticipationsPage> {
    const query = new URLSearchParams({ limit: '100' });
    if (after) query.set('after', after);
    const path =
      `/marketing/v3/marketing-events/participations/${encodeURIComponent(externalAccountId)}/` +
      `${encodeURIComponent(externalEventId)}/breakdown?${query.toString()}`;
    const page = ParticipationsResponse.parse(
      await this.callJson(
        'marketing_events.participations',
        `read participations of ${externalEventId}`,
        path,
      ),
    );
    return {
      participations: page.results.map((r) => ({
        id: r.id,
        contactId: r.associations.contact.contactId,
        state: r.properties.attendanceState,
        occurredAt: r.properties.occurredAt,
      })),
      next: page.paging?.next?.after,
    };
  }

  /** Every contact property with its type and options, for `config check`. */
  contactProperties() {
    return this.call('properties.list', 'list contact properties', () =>
      this.client.crm.properties.coreApi.getAll('contacts', undefined, undefined, this.sdk),
    );
  }

  /** One page of notes, for `config check`'s scope probe. */
  listNotes(limit: number) {
    return this.call('notes.list', 'list notes', () =>
      this.client.crm.objects.notes.basicApi.getPage(
        limit,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
  }

  /** Whether this address is unsubscribed from all email (v4 communication preferences). */
  unsubscribeAllStatus(email: string): Promise<unknown> {
    return this.callJson(
      'communication_preferences.status',
      'read unsubscribe-all status',
      `${unsubscribeAllPath(email)}?channel=EMAIL`,
    );
  }

  /** Contact ids of these email addresses (≤ 100 per call); unknown addresses are absent. */
  async contactIdsByEmail(emails: string[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (let i = 0; i < emails.length; i += BATCH_MAX) {
      const inputs = emails.slice(i, i + BATCH_MAX).map((id) => ({ id }));
      const found = await this.call('contacts.batch_read', 'find contacts by email', () =>
        this.client.crm.contacts.batchApi.read(
          {
            inputs,
            idProperty: 'email',
            properties: ['email'],
            propertiesWithHistory: [],
          },
          undefined,
          this.sdk,
        ),
      );
      for (const c of found.results) if (c.properties.email) ids.set(c.properties.email.toLowerCase(), c.id);
    }
    return ids;
  }
}

export interface ModifiedContactsPage {
  contacts: { lead: LeadRef; profile: Profile; modifiedAt: number }[];
  /** Cursor of the next page; HubSpot refuses cursors past 10,000 results, see SEARCH_RESULTS_MAX. */
  next?: string;
}

/** HubSpot's search: at most 200 a page and 10,000 results a query. */
const SEARCH_PAGE = 200;
export const SEARCH_RESULTS_MAX = 10_000;

/** One event of the v1 email events API; STATUSCHANGE adds the recipient's subscription state. */
const EmailEvent = z.object({
  id: z.string(),
  type: z.string(),
  recipient: z.string().min(1),
  created: z.number(),
  emailCampaignId: z.number().optional(),
  url: z.string().optional(),
  /** STATUSCHANGE: SUBSCRIBED or UNSUBSCRIBED, for the whole portal. */
  portalSubscriptionStatus: z.string().optional(),
  /** STATUSCHANGE: the subscription types that changed, each SUBSCRIBED or UNSUBSCRIBED. */
  subscriptions: z.array(z.object({ id: z.number().optional(), status: z.string().optional() })).optional(),
  /** STATUSCHANGE: who or what made the change, e.g. SOURCE_RECIPIENT, SOURCE_IMPORT. */
  source: z.string().optional(),
});
export type EmailEvent = z.infer<typeof EmailEvent>;
const EmailEventsResponse = z.object({
  events: z.array(z.unknown()),
  hasMore: z.boolean().default(false),
  offset: z.string().optional(),
});
export interface EmailEventsPage {
  events: EmailEvent[];
  /** Events of the page that lack what we need (UNBOUNCE, partial records): left out and counted. */
  skipped: number;
  next?: string;
}

const FormSubmissionsResponse = z.object({
  results: z.array(
    z.object({
      submittedAt: z.number(),
      pageUrl: z.string().optional(),
      values: z.array(z.object({ name: z.string(), value: z.string() })),
    }),
  ),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});
export interface FormSubmissionsPage {
  submissions: { submittedAt: number; pageUrl?: string; values: Record<string, string> }[];
  next?: string;
}

const ParticipationsResponse = z.object({
  results: z.array(
    z.object({
      id: z.string(),
      associations: z.object({ contact: z.object({ contactId: z.string() }) }),
      properties: z.object({ attendanceState: z.string(), occurredAt: z.number() }),
    }),
  ),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});
export interface ParticipationsPage {
  participations: { id: string; contactId: string; state: string; occurredAt: number }[];
  next?: string;
}

/** v4 communication preferences: a contact's "unsubscribed from all email" status, by email address. */
export function unsubscribeAllPath(email: string): string {
  return `/communication-preferences/v4/statuses/${encodeURIComponent(email)}/unsubscribe-all`;
}
