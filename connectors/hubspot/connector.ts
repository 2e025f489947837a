import type { Client } from '@hubspot/api-client';
import { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js';
import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/notes/index.js';
import { z } from 'zod';
import type { HubSpotFields, HubSpotPolling } from '../../src/config/schema.js';
import {
  containsMarker,
  handoffMarker,
  textToHtml,
  type LeadRef,
  type Owner,
  type Profile,
  type RepTask,
  type Score,
} from '../../src/domain/index.js';
import { CrmError, isCrmError } from '../errors.js';
import type { RateBudget } from '../../src/store/rate-budget.js';
import type {
  CreatedRecord,
  CrmCallObservation,
  CrmConnector,
  DispositionWrite,
  LeadPage,
  RecordFailure,
  RepActivity,
  ScoreWrite,
  StageAdvance,
} from '../types.js';
import { AccountDetails, nextMidnight } from './account.js';
import type { PortalFacts } from './check.js';
import { toCrmFailure } from './errors.js';
import type { HubSpotOAuth } from './oauth.js';

/** HubSpot's default lifecycle order; portals may add stages, read from the property's options then. */
const DEFAULT_STAGE_ORDER = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
  'other',
];
const NOTE_BODY_MAX = 65_536;
const BATCH_MAX = 100;
const NOTE_TO_CONTACT = 202;
const TASK_TO_CONTACT = 204;
/** Owners change rarely; a handoff should not wait for a listing each time. */
const OWNERS_TTL_MS = 10 * 60_000;
/** Fields that mean something only in the CRM they came from: never copied into a new contact. */
const OWNED_BY_US = new Set(['ownerId', 'leadStatus', 'dispositionReason', 'lastSalesActivity']);
/** Contact properties HubSpot stamps when a rep logs a call, email or meeting. */
const SALES_ACTIVITY_PROPERTIES = ['notes_last_contacted', 'hs_last_sales_activity_timestamp'];

/** The slice of HubSpot's error entries we rely on in a 207 answer. */
const BatchErrors = z.array(
  z.object({
    message: z.string().default(''),
    category: z.string().optional(),
    context: z.record(z.string(), z.array(z.string())).optional(),
  }),
);

/** A PATCH answer: the contact's properties as they are after the update. */
const UpdatedContact = z.object({
  properties: z.record(z.string(), z.string().nullable()),
  updatedAt: z.date(),
});
/** `propertiesWithHistory` of a contact read: every version of each property, with when it was set. */
const PropertyHistory = z.record(
  z.string(),
  z.array(
    z.object({
      value: z.string(),
      timestamp: z.date().transform((d) => d.getTime()),
    }),
  ),
);
/** Our version of a property is stamped with the update's time, give or take HubSpot's own clocks. */
const VERSION_CLOCK_SLACK_MS = 1_000;

export interface HubSpotConnectorOptions {
  client: Client;
  fields: HubSpotFields;
  /** Longest a single call may take before it counts as a network failure. */
  timeoutMs?: number;
  /** The portal's shared request budget; every call waits for its turn. */
  budget?: RateBudget;
  /** Told about every call, for metrics. */
  onCall?: (call: CrmCallObservation) => void;
  /** OAuth apps: where access tokens come from (private apps pass a fixed token to the client). */
  oauth?: HubSpotOAuth;
  /** HubSpot's separate search limit (5 per second per portal), shared like `budget`. */
  searchBudget?: RateBudget;
}

/**
 * SDK 13.x applies the client's own middleware (its user agent, our keep-alive agent and rate-limit
 * observer) only to calls that pass options of their own (HubSpot/hubspot-api-nodejs#686), so every
 * call passes these. Typed per API module in the SDK, hence the cast.
 */
const SDK_CALL_OPTIONS = { middleware: [], middlewareMergeStrategy: 'append' } as never;

export class HubSpotConnector implements CrmConnector {
  readonly crm = 'hubspot' as const;
  private readonly sdk = SDK_CALL_OPTIONS;
  private readonly client: Client;
  private readonly fields: HubSpotFields;
  private readonly timeoutMs: number;
  private readonly budget: RateBudget | undefined;
  private readonly onCall: ((call: CrmCallObservation) => void) | undefined;
  private readonly oauth: HubSpotOAuth | undefined;
  private readonly searchBudget: RateBudget | undefined;
  private stageOrder: string[] | undefined;
  private ownerCache: { at: number; owners: Promise<Owner[]> } | undefined;
  private timeZone: Promise<string> | undefined;

  constructor(opts: HubSpotConnectorOptions) {
    this.client = opts.client;
    this.fields = opts.fields;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.budget = opts.budget;
    this.onCall = opts.onCall;
    this.oauth = opts.oauth;
    this.searchBudget = opts.searchBudget;
  }

  /**
   * Every SDK call goes through here: paced by the shared rate budget, bounded in time, observed,
   * and any failure becomes a CrmError. With OAuth, a 401 means the token died early: it is
   * refreshed and the call made once more.
   */
  private async call<T>(endpoint: string, what: string, fn: () => Promise<T>): Promise<T> {
    if (!this.oauth) return this.callOnce(endpoint, what, fn);
    const token = await this.oauth.token();
    this.client.setAccessToken(token);
    try {
      return await this.callOnce(endpoint, what, fn);
    } catch (err) {
      if (!(isCrmError(err) && err.failure.status === 401)) throw err;
      await this.oauth.invalidate(token);
      this.client.setAccessToken(await this.oauth.token());
      return this.callOnce(endpoint, what, fn);
    }
  }

  private async callOnce<T>(endpoint: string, what: string, fn: () => Promise<T>): Promise<T> {
    const budgetWaitSeconds = ((await this.budget?.take()) ?? 0) / 1000;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                Object.assign(new Error(`timed out after ${this.timeoutMs} ms`), { name: 'TimeoutError' }),
              ),
            this.timeoutMs,
          );
        }),
      ]);
      this.onCall?.({
        endpoint,
        outcome: 'ok',
        seconds: (performance.now() - started) / 1000,
        budgetWaitSeconds,
      });
      return result;
    } catch (err) {
      if (isCrmError(err)) throw err;
      const failure = toCrmFailure(err);
      const outcome = failure.status !== undefined ? String(failure.status) : 'network';
      this.onCall?.({ endpoint, outcome, seconds: (performance.now() - started) / 1000, budgetWaitSeconds });
      // The queue pauses until the daily limit resets; the account-info read itself must not recurse.
      if (failure.policy?.toUpperCase() === 'DAILY' && endpoint !== ACCOUNT_DETAILS)
        failure.resetAt = await this.dailyResetAt();
      throw new CrmError({ ...failure, message: `${what}: ${failure.message}` });
    } finally {
      clearTimeout(timer);
    }
  }

  async ensureSchema(): Promise<void> {
    const wanted = [
      { name: this.fields.score, label: 'Lead score', type: 'number', fieldType: 'number' },
      { name: this.fields.fitScore, label: 'Lead fit score', type: 'number', fieldType: 'number' },
      {
        name: this.fields.engagementScore,
        label: 'Lead engagement score',
        type: 'number',
        fieldType: 'number',
      },
      { name: this.fields.scoreReasons, label: 'Lead score reasons', type: 'string', fieldType: 'textarea' },
      { name: this.fields.badData, label: 'Bad data (sales)', type: 'string', fieldType: 'text' },
      ...(this.fields.profile.dispositionReason
        ? [
            {
              name: this.fields.profile.dispositionReason,
              label: 'Disposition reason',
              type: 'string',
              fieldType: 'text',
            },
          ]
        : []),
    ];
    for (const property of wanted) {
      const exists = await this.call('properties.get', `read property ${property.name}`, () =>
        this.client.crm.properties.coreApi
          .getByName('contacts', property.name, undefined, undefined, this.sdk)
          .then(
            () => true,
            (err: unknown) => {
              if ((err as { code?: unknown }).code === 404) return false;
              throw err;
            },
          ),
      );
      if (exists) continue;
      await this.call('properties.create', `create property ${property.name}`, () =>
        this.client.crm.properties.coreApi
          .create(
            'contacts',
            {
              ...property,
              groupName: 'contactinformation',
              description: 'Maintained by leadflow',
            } as Parameters<Client['crm']['properties']['coreApi']['create']>[1],
            this.sdk,
          )
          .catch((err: unknown) => {
            // Another worker created it between our read and our create.
            if ((err as { code?: unknown }).code !== 409) throw err;
          }),
      );
    }
  }

  async readProfile(lead: LeadRef): Promise<Profile> {
    const contact = await this.call('contacts.get', `read contact ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        this.profileProperties(),
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    return this.toProfile(contact.properties);
  }

  async listLeads(after: string | undefined, limit: number): Promise<LeadPage> {
    const page = await this.call('contacts.list', 'list contacts', () =>
      this.client.crm.contacts.basicApi.getPage(
        Math.min(limit, 100),
        after,
        this.profileProperties(),
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    return {
      leads: page.results.map((c) => ({
        lead: { crm: 'hubspot', objectType: 'contact', id: c.id },
        profile: this.toProfile(c.properties),
      })),
      next: page.paging?.next?.after,
    };
  }

  private profileProperties(): string[] {
    return [...Object.values(this.fields.profile), this.fields.lifecycleStage];
  }

  private toProfile(properties: Record<string, string | null>): Profile {
    const profile: Profile = {};
    for (const [field, property] of Object.entries(this.fields.profile)) {
      const value = properties[property];
      if (value !== undefined && value !== null && value !== '') profile[field] = value;
    }
    const stage = properties[this.fields.lifecycleStage];
    if (stage) profile.lifecycleStage = stage;
    return profile;
  }

  async writeScores(writes: ScoreWrite[]): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    for (let i = 0; i < writes.length; i += BATCH_MAX)
      failures.push(...(await this.writeScoreBatch(writes.slice(i, i + BATCH_MAX))));
    return failures;
  }

  /**
   * One batch/update. HubSpot may answer 207 with per-record errors, or refuse the whole batch
   * (400/404) when one of its ids was deleted or merged away: then the ids it names fail and the
   * rest is sent again; when it names none, the batch is split in halves until the culprit stands
   * alone, so the others' writes are never lost.
   */
  private async writeScoreBatch(chunk: ScoreWrite[]): Promise<RecordFailure[]> {
    const inputs = chunk.map((w) => ({ id: w.lead.id, properties: this.scoreProperties(w.score) }));
    let response;
    try {
      response = await this.call('contacts.batch_update', 'write scores', () =>
        this.client.crm.contacts.batchApi.update({ inputs }, this.sdk),
      );
    } catch (err) {
      if (!(isCrmError(err) && (err.failure.status === 400 || err.failure.status === 404))) throw err;
      const named = chunk.filter((w) => err.failure.ids?.includes(w.lead.id));
      const rest = chunk.filter((w) => !named.includes(w));
      if (named.length && rest.length)
        return [...named.map((w) => ({ lead: w.lead, error: err })), ...(await this.writeScoreBatch(rest))];
      // Only a missing record is worth narrowing down; any other refusal is every record's.
      if (chunk.length === 1 || named.length || err.failure.code !== 'OBJECT_NOT_FOUND')
        return chunk.map((w) => ({ lead: w.lead, error: err }));
      const half = Math.ceil(chunk.length / 2);
      return [
        ...(await this.writeScoreBatch(chunk.slice(0, half))),
        ...(await this.writeScoreBatch(chunk.slice(half))),
      ];
    }
    if (!('errors' in response) || !response.errors?.length) return [];
    // 207: some records failed. Map each error back to its leads by the ids in its context.
    const failures: RecordFailure[] = [];
    for (const error of BatchErrors.parse(response.errors)) {
      const ids = error.context?.ids ?? error.context?.id ?? [];
      for (const w of chunk.filter((c) => ids.includes(c.lead.id))) {
        failures.push({
          lead: w.lead,
          error: new CrmError({
            crm: 'hubspot',
            status: 400,
            code: error.category,
            message: error.message,
          }),
        });
      }
    }
    return failures;
  }

  private scoreProperties(score: Score): Record<string, string> {
    return {
      [this.fields.score]: String(score.total),
      [this.fields.fitScore]: String(score.fit),
      [this.fields.engagementScore]: String(score.engagement),
      [this.fields.scoreReasons]: score.breakdown
        .slice(0, 10)
        .map((l) => l.reason)
        .join('\n'),
    };
  }

  /**
   * HubSpot answers a backward stage write 2xx without applying the stage, but applies the owner and
   * status of the same PATCH. Its answer carries the properties as they are afterwards, so a stage
   * that did not stick shows in the same round trip: then the owner and status we wrote are put back
   * at once from their history, and the handoff is reported as not advanced.
   */
  async advanceStage(
    lead: LeadRef,
    stage: 'mql' | 'sql',
    knownStage?: string,
    ownerId?: string | null,
  ): Promise<StageAdvance> {
    const target = this.fields.stages[stage];
    const order = await this.stages();
    const atOrPast = (current: string) => current !== '' && order.indexOf(current) >= order.indexOf(target);
    // Already at or past the stage: sales has it, so neither stage nor owner is touched.
    const current = knownStage ?? (await this.readStage(lead));
    if (atOrPast(current)) return { stage: current, advanced: false };

    // Stage, owner and status in one write: the handoff's latency is mostly CRM round trips.
    const properties: Record<string, string> = {
      [this.fields.lifecycleStage]: target,
      hs_lead_status: this.fields.leadStatus.handedOff,
    };
    if (ownerId) properties.hubspot_owner_id = ownerId;
    const answer = UpdatedContact.parse(
      await this.call('contacts.update', `hand over ${lead.id}`, () =>
        this.client.crm.contacts.basicApi.update(lead.id, { properties }, undefined, this.sdk),
      ),
    );
    const now = answer.properties[this.fields.lifecycleStage] ?? (await this.readStage(lead));
    if (now === target) return { stage: now, advanced: true };
    const others = Object.fromEntries(
      Object.entries(properties).filter(([name]) => name !== this.fields.lifecycleStage),
    );
    const restored = await this.restoreBefore(lead, others, answer.updatedAt);
    return { stage: now, advanced: false, restored };
  }

  /**
   * Puts back the values these properties had before our write at `writtenAt` (HubSpot's clock).
   * A property is restored only while our value is still its newest version: a change someone made
   * after ours stands. Returns the names restored.
   */
  private async restoreBefore(
    lead: LeadRef,
    written: Record<string, string>,
    writtenAt: Date,
  ): Promise<string[]> {
    const contact = await this.call('contacts.get', `read history of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        [],
        Object.keys(written),
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    const history = PropertyHistory.parse(contact.propertiesWithHistory ?? {});
    const restore: Record<string, string> = {};
    for (const [name, value] of Object.entries(written)) {
      const [ours, before] = [...(history[name] ?? [])].sort((a, b) => b.timestamp - a.timestamp);
      if (ours?.value === value && ours.timestamp >= writtenAt.getTime() - VERSION_CLOCK_SLACK_MS)
        restore[name] = before?.value ?? '';
    }
    if (Object.keys(restore).length === 0) return [];
    await this.call('contacts.update', `restore ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.update(lead.id, { properties: restore }, undefined, this.sdk),
    );
    return Object.keys(restore);
  }

  private async readStage(lead: LeadRef): Promise<string> {
    const contact = await this.call('contacts.get', `read stage of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        [this.fields.lifecycleStage],
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    return contact.properties[this.fields.lifecycleStage] ?? '';
  }

  /** The portal's stage order: the default one, or the property's options when the portal customized it. */
  private async stages(): Promise<string[]> {
    if (this.stageOrder) return this.stageOrder;
    const targets = Object.values(this.fields.stages);
    if (targets.every((t) => DEFAULT_STAGE_ORDER.includes(t))) return (this.stageOrder = DEFAULT_STAGE_ORDER);
    const property = await this.call('properties.get', 'read lifecycle stages', () =>
      this.client.crm.properties.coreApi.getByName(
        'contacts',
        this.fields.lifecycleStage,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    this.stageOrder = [...property.options]
      .sort((a, b) => (a.displayOrder ?? 0) - (b.displayOrder ?? 0))
      .map((o) => o.value);
    return this.stageOrder;
  }

  async createHandoffNote(
    lead: LeadRef,
    handoffId: string,
    body: string,
    mayExist: boolean,
  ): Promise<CreatedRecord> {
    if (mayExist) {
      const existing = await this.findByMarker(lead, 'notes', 'hs_note_body', handoffId);
      if (existing) return { id: existing, created: false };
    }
    const note = await this.call('notes.create', `create note for ${lead.id}`, () =>
      this.client.crm.objects.notes.basicApi.create(
        {
          properties: { hs_timestamp: new Date().toISOString(), hs_note_body: fitNoteBody(body, handoffId) },
          associations: [toContact(lead, NOTE_TO_CONTACT)],
        },
        this.sdk,
      ),
    );
    return { id: note.id, created: true };
  }

  async createRepTask(lead: LeadRef, key: string, task: RepTask, mayExist: boolean): Promise<CreatedRecord> {
    if (mayExist) {
      const existing = await this.findByMarker(lead, 'tasks', 'hs_task_body', key);
      if (existing) return { id: existing, created: false };
    }
    const properties: Record<string, string> = {
      hs_timestamp: new Date(task.dueAt).toISOString(),
      hs_task_subject: task.subject,
      hs_task_body: fitNoteBody(textToHtml(task.body), key),
      hs_task_status: 'NOT_STARTED',
      hs_task_priority: task.priority,
      hs_task_type: task.type,
    };
    if (task.ownerId) properties.hubspot_owner_id = task.ownerId;
    const created = await this.call('tasks.create', `create task for ${lead.id}`, () =>
      this.client.crm.objects.tasks.basicApi.create(
        {
          properties,
          associations: [toContact(lead, TASK_TO_CONTACT)],
        },
        this.sdk,
      ),
    );
    return { id: created.id, created: true };
  }

  /**
   * A note or task from an earlier attempt: listed through the association API, which is
   * consistent at once (search is not).
   */
  private async findByMarker(
    lead: LeadRef,
    kind: 'notes' | 'tasks',
    bodyProperty: string,
    key: string,
  ): Promise<string | undefined> {
    let after: string | undefined;
    do {
      const page = await this.call('associations.list', `list ${kind} of ${lead.id}`, () =>
        this.client.crm.associations.v4.basicApi.getPage('contacts', lead.id, kind, after, 500, this.sdk),
      );
      const ids = page.results.map((r) => String(r.toObjectId));
      // An association page holds up to 500 ids; a batch read takes at most 100.
      for (let i = 0; i < ids.length; i += BATCH_MAX) {
        const inputs = ids.slice(i, i + BATCH_MAX).map((id) => ({ id }));
        const body = { inputs, properties: [bodyProperty], propertiesWithHistory: [] };
        const found = await this.call(`${kind}.batch_read`, `read ${kind}`, () =>
          kind === 'notes'
            ? this.client.crm.objects.notes.batchApi.read(body, undefined, this.sdk)
            : this.client.crm.objects.tasks.batchApi.read(body, undefined, this.sdk),
        );
        const match = found.results.find((r) => containsMarker(r.properties[bodyProperty] ?? '', key));
        if (match) return match.id;
      }
      after = page.paging?.next?.after;
    } while (after);
    return undefined;
  }

  /** HubSpot moves it to the recycle bin (restorable for 90 days), so a mistaken delete can be undone. */
  async deleteActivity(lead: LeadRef, kind: 'note' | 'task', id: string): Promise<void> {
    try {
      await this.call(`${kind}s.delete`, `delete ${kind} ${id} of ${lead.id}`, () =>
        kind === 'note'
          ? this.client.crm.objects.notes.basicApi.archive(id, this.sdk)
          : this.client.crm.objects.tasks.basicApi.archive(id, this.sdk),
      );
    } catch (err) {
      if (!(isCrmError(err) && err.failure.status === 404)) throw err;
    }
  }

  async reassign(lead: LeadRef, ownerId: string, taskId: string | null): Promise<void> {
    await this.call('contacts.update', `reassign ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.update(
        lead.id,
        { properties: { hubspot_owner_id: ownerId } },
        undefined,
        this.sdk,
      ),
    );
    if (taskId)
      await this.call('tasks.update', `reassign task ${taskId}`, () =>
        this.client.crm.objects.tasks.basicApi.update(
          taskId,
          { properties: { hubspot_owner_id: ownerId } },
          undefined,
          this.sdk,
        ),
      );
  }

  async repActivity(lead: LeadRef, since: number, taskId: string | null): Promise<RepActivity | null> {
    if (taskId) {
      const task = await this.call('tasks.get', `read task ${taskId}`, () =>
        this.client.crm.objects.tasks.basicApi.getById(
          taskId,
          ['hs_task_status', 'hs_lastmodifieddate'],
          undefined,
          undefined,
          undefined,
          undefined,
          this.sdk,
        ),
      );
      if (task.properties.hs_task_status === 'COMPLETED')
        return { what: 'task completed', at: toMillis(task.properties.hs_lastmodifieddate) ?? Date.now() };
    }
    const contact = await this.call('contacts.get', `read activity of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        [...SALES_ACTIVITY_PROPERTIES, 'hs_lead_status'],
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    for (const property of SALES_ACTIVITY_PROPERTIES) {
      const at = toMillis(contact.properties[property]);
      if (at !== undefined && at > since) return { what: property, at };
    }
    const status = contact.properties.hs_lead_status;
    if (status && status !== this.fields.leadStatus.handedOff)
      return { what: `lead status ${status}`, at: Date.now() };
    return null;
  }

  owners(): Promise<Owner[]> {
    if (this.ownerCache && Date.now() - this.ownerCache.at < OWNERS_TTL_MS) return this.ownerCache.owners;
    const owners = Promise.all([this.listOwners(false), this.listOwners(true)]).then(([active, archived]) => [
      ...active,
      ...archived.map((o) => ({ ...o, active: false })),
    ]);
    this.ownerCache = { at: Date.now(), owners };
    // A failed listing must not be cached.
    owners.catch(() => (this.ownerCache = undefined));
    return owners;
  }

  private async listOwners(archived: boolean): Promise<Owner[]> {
    const owners: Owner[] = [];
    let after: string | undefined;
    do {
      const page = await this.call('owners.list', 'list owners', () =>
        this.client.crm.owners.ownersApi.getPage(undefined, after, 100, archived, this.sdk),
      );
      for (const o of page.results)
        owners.push({
          id: o.id,
          name: [o.firstName, o.lastName].filter(Boolean).join(' ') || undefined,
          email: o.email,
          active: !archived,
        });
      after = page.paging?.next?.after;
    } while (after);
    return owners;
  }

  /**
   * One page (≤ 200) of contacts modified at or after `since`, oldest first, with the mapped
   * properties and their modification time. Paced by the separate search budget as well.
   */
  async searchModifiedContacts(since: number, after: string | undefined): Promise<ModifiedContactsPage> {
    // Search's own budget is taken last, just before the request, so a wait for the general budget
    // cannot bunch searches into one second.
    const page = await this.call('contacts.search', 'search modified contacts', async () => {
      await this.searchBudget?.take();
      return this.client.crm.contacts.searchApi.doSearch(
        {
          filterGroups: [
            {
              filters: [
                { propertyName: 'lastmodifieddate', operator: FilterOperatorEnum.Gte, value: String(since) },
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
    });
    return {
      contacts: page.results.map((c) => ({
        lead: { crm: 'hubspot' as const, objectType: 'contact' as const, id: c.id },
        profile: this.toProfile(c.properties),
        modifiedAt: toMillis(c.properties.lastmodifieddate) ?? c.updatedAt.getTime(),
      })),
      next: page.paging?.next?.after,
    };
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

  async matchLead(profile: Profile, create: boolean): Promise<LeadRef | null> {
    const email = typeof profile.email === 'string' ? profile.email.trim().toLowerCase() : '';
    if (!email) return null;
    const found = (await this.contactIdsByEmail([email])).get(email);
    if (found) return { crm: 'hubspot', objectType: 'contact', id: found };
    if (!create) return null;
    const properties: Record<string, string> = {};
    for (const [field, property] of Object.entries(this.fields.profile))
      if (!OWNED_BY_US.has(field) && profile[field] !== undefined && profile[field] !== null)
        properties[property] = String(profile[field]);
    const created = await this.call('contacts.create', `create contact ${email}`, () =>
      this.client.crm.contacts.basicApi.create({ properties, associations: [] }, this.sdk),
    );
    return { crm: 'hubspot', objectType: 'contact', id: created.id };
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

  /**
   * Opts the contact out of all marketing email, since the API cannot set its marketing contact
   * status. v4's unsubscribe-all (one call, portal-wide, covering subscription types created later)
   * rather than v3's per-type unsubscribe that SDK 13.x wraps: v3 needs a call per type and HubSpot
   * says it cannot unsubscribe at brand or portal level. SDK 13.x has no v4 API, hence apiRequest.
   * Needs `communication_preferences.write` (or `.read_write`). A contact without email has nothing
   * to unsubscribe.
   */
  private async unsubscribeAllEmail(lead: LeadRef): Promise<void> {
    const emailProperty = this.fields.profile.email ?? 'email';
    const contact = await this.call('contacts.get', `read email of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        [emailProperty],
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    const email = contact.properties[emailProperty];
    if (!email) return;
    const answer = UnsubscribeAllResponse.parse(
      await this.callJson(
        'communication_preferences.unsubscribe_all',
        `unsubscribe ${lead.id} from all email`,
        `${unsubscribeAllPath(email)}?channel=EMAIL`,
        'POST',
      ),
    );
    // A batch-shaped answer: a 200 can still carry the contact's failure in `errors`.
    const [error] = answer.errors;
    if (error)
      throw new CrmError({
        crm: 'hubspot',
        status: 400,
        code: error.category,
        message: `unsubscribe ${lead.id} from all email: ${error.message}`,
      });
  }

  /** Endpoints the SDK has no typed API for, through its generic request. */
  private callJson(
    endpoint: string,
    what: string,
    path: string,
    method: 'GET' | 'POST' = 'GET',
  ): Promise<unknown> {
    return this.call(endpoint, what, async () => {
      const res = await this.client.apiRequest({ method, path });
      // Shaped like the SDK's ApiException, body included: it carries errorType, policyName, message.
      if (!res.ok) {
        const body = await res.text();
        throw Object.assign(new Error(body), { code: res.status, headers: headersOf(res), body });
      }
      return res.json() as Promise<unknown>;
    });
  }

  /**
   * When the portal's daily limit resets: midnight in the account's time zone (not UTC). Undefined when
   * the zone cannot be read (the queue then probes again later instead of guessing).
   */
  private async dailyResetAt(): Promise<number | undefined> {
    try {
      return nextMidnight(await this.accountTimeZone(), Date.now());
    } catch {
      return undefined;
    }
  }

  /** The portal's time zone, read once per process: it is an account setting that hardly ever changes. */
  private accountTimeZone(): Promise<string> {
    if (!this.timeZone) {
      this.timeZone = this.callJson(ACCOUNT_DETAILS, 'read account details', '/account-info/v3/details').then(
        (body) => AccountDetails.parse(body).timeZone,
      );
      // A failed read must not be cached.
      this.timeZone.catch(() => (this.timeZone = undefined));
    }
    return this.timeZone;
  }

  /**
   * Reads what `config check` compares with the config; each scope is probed with one read: the base
   * scopes always, a poller's only when `hubspot.polling` enables it.
   */
  async portalFacts(polling: HubSpotPolling = {}, unsubscribeNeededBy?: string): Promise<PortalFacts> {
    const probe = async <T>(scope: string, read: () => Promise<T>, neededBy?: string) => {
      try {
        return { scope, neededBy, ok: true as const, value: await read() };
      } catch (err) {
        const failure = isCrmError(err) ? err.failure : undefined;
        return {
          scope,
          neededBy,
          ok: false as const,
          status: failure?.status,
          message: failure?.message ?? String(err),
        };
      }
    };
    const now = Date.now();
    // The contacts poller searches with crm.objects.contacts.read, probed below for every config.
    const { emailEvents, forms, marketingEvents } = polling;
    const featureProbes = [
      emailEvents &&
        probe('content', () => this.emailEvents(now - 1, now, undefined), 'hubspot.polling.emailEvents'),
      forms &&
        probe('forms', () => this.formSubmissions(forms.forms[0]!.guid, undefined), 'hubspot.polling.forms'),
      marketingEvents &&
        probe(
          'crm.objects.marketing_events.read',
          () => {
            const [event] = marketingEvents.events;
            return this.eventParticipations(event!.externalAccountId, event!.externalEventId, undefined);
          },
          'hubspot.polling.marketingEvents',
        ),
      // The unmarket disposition's unsubscribe writes with `.write` or `.read_write`; only the
      // latter also lets this read prove it without unsubscribing anyone.
      unsubscribeNeededBy &&
        probe(
          'communication_preferences.read_write',
          () =>
            this.callJson(
              'communication_preferences.status',
              'read unsubscribe-all status',
              `${unsubscribeAllPath(SCOPE_PROBE_EMAIL)}?channel=EMAIL`,
            ),
          unsubscribeNeededBy,
        ),
    ].filter((p) => !!p);
    const [contacts, properties, owners, notes] = await Promise.all([
      probe('crm.objects.contacts.read', () => this.listLeads(undefined, 1)),
      probe('crm.schemas.contacts.read', () =>
        this.call('properties.list', 'list contact properties', () =>
          this.client.crm.properties.coreApi.getAll('contacts', undefined, undefined, this.sdk),
        ),
      ),
      probe('crm.objects.owners.read', () => this.owners()),
      probe('crm.objects.contacts.read (notes)', () =>
        this.call('notes.list', 'list notes', () =>
          this.client.crm.objects.notes.basicApi.getPage(
            1,
            undefined,
            undefined,
            undefined,
            undefined,
            undefined,
            this.sdk,
          ),
        ),
      ),
    ]);
    return {
      properties: properties.ok
        ? new Map(
            properties.value.results.map((p) => [
              p.name,
              {
                type: p.type,
                options: p.options.map((o) => o.value),
                readOnly: p.modificationMetadata?.readOnlyValue ?? false,
              },
            ]),
          )
        : null,
      owners: owners.ok ? owners.value : null,
      probes: [contacts, properties, owners, notes, ...(await Promise.all(featureProbes))].map(
        ({ scope, neededBy, ok, ...rest }) => ({
          scope,
          ok,
          ...(neededBy ? { neededBy } : {}),
          ...('status' in rest ? { status: rest.status, message: rest.message } : {}),
        }),
      ),
    };
  }

  async applyDisposition(lead: LeadRef, action: DispositionWrite): Promise<void> {
    const update = (properties: Record<string, string>, what: string) =>
      this.call('contacts.update', `${what} ${lead.id}`, () =>
        this.client.crm.contacts.basicApi.update(lead.id, { properties }, undefined, this.sdk),
      );
    const { stages, leadStatus, lifecycleStage } = this.fields;
    switch (action) {
      case 'recycle': {
        // HubSpot only moves the stage forward: clear it, set it, then check it stuck.
        await update({ [lifecycleStage]: '' }, 'clear stage of');
        await update({ [lifecycleStage]: stages.recycled, hs_lead_status: leadStatus.recycled }, 'recycle');
        const now = await this.readStage(lead);
        if (now !== stages.recycled)
          throw new CrmError({
            crm: 'hubspot',
            status: 409,
            message: `recycle ${lead.id}: stage is "${now}" after setting "${stages.recycled}"`,
          });
        return;
      }
      case 'disqualify':
        return void (await update(
          { [lifecycleStage]: stages.disqualified, hs_lead_status: leadStatus.disqualified },
          'disqualify',
        ));
      case 'unmarket': {
        const { property, unsubscribeAllEmail } = this.fields.unmarket;
        if (property) await update({ [property.name]: property.value }, 'unmarket');
        if (unsubscribeAllEmail) await this.unsubscribeAllEmail(lead);
        return;
      }
      case 'bad_data':
        return void (await update(
          {
            [this.fields.badData]: 'true',
            [lifecycleStage]: stages.disqualified,
            hs_lead_status: leadStatus.disqualified,
          },
          'mark bad data',
        ));
    }
  }
}

export interface ModifiedContactsPage {
  contacts: { lead: LeadRef; profile: Profile; modifiedAt: number }[];
  /** Cursor of the next page; HubSpot refuses cursors past 10,000 results, see SEARCH_RESULTS_MAX. */
  next?: string;
}

const ACCOUNT_DETAILS = 'account.details';

/** v4 communication preferences: a contact's "unsubscribed from all email" status, by email address. */
function unsubscribeAllPath(email: string): string {
  return `/communication-preferences/v4/statuses/${encodeURIComponent(email)}/unsubscribe-all`;
}
/** The slice of v4's batch-shaped answer we rely on: per-contact failures come in `errors`. */
const UnsubscribeAllResponse = z.object({
  status: z.string(),
  errors: z.array(z.object({ message: z.string().default(''), category: z.string().optional() })).default([]),
});
/** The address `config check` reads the unsubscribe status of: any address proves the scope. */
const SCOPE_PROBE_EMAIL = 'scope-probe@leadflow.example';

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

function headersOf(res: {
  headers: { forEach(fn: (value: string, name: string) => void): void };
}): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => (out[name] = value));
  return out;
}

function toContact(lead: LeadRef, associationTypeId: number) {
  return {
    to: { id: lead.id },
    types: [
      { associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined, associationTypeId },
    ],
  };
}

/** HubSpot datetime properties come as ISO strings or epoch milliseconds. */
function toMillis(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const at = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return Number.isFinite(at) ? at : undefined;
}

/** HubSpot caps note bodies; keep the end (with the handoff id) and cut the middle. */
export function fitNoteBody(body: string, handoffId: string): string {
  if (body.length <= NOTE_BODY_MAX) return body;
  const tail = `<p>… (truncated)</p><p>${handoffMarker(handoffId)}</p>`;
  return body.slice(0, NOTE_BODY_MAX - tail.length) + tail;
}
