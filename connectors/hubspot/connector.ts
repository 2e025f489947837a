import type { Client } from '@hubspot/api-client';
import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/notes/index.js';
import { z } from 'zod';
import type { HubSpotFields } from '../../src/config/schema.js';
import type { LeadRef, Profile, Score } from '../../src/domain/index.js';
import { CrmError, isCrmError } from '../errors.js';
import type { RateBudget } from '../../src/store/rate-budget.js';
import type {
  CrmCallObservation,
  CrmConnector,
  LeadPage,
  NoteResult,
  RecordFailure,
  ScoreWrite,
} from '../types.js';
import { toCrmFailure } from './errors.js';

/** HubSpot's default lifecycle order; portals may add stages, read from the property's options then. */
const DEFAULT_STAGE_ORDER = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
];
const NOTE_BODY_MAX = 65_536;
const BATCH_MAX = 100;
const NOTE_TO_CONTACT = 202;

/** The slice of HubSpot's error entries we rely on in a 207 answer. */
const BatchErrors = z.array(
  z.object({
    message: z.string().default(''),
    category: z.string().optional(),
    context: z.record(z.string(), z.array(z.string())).optional(),
  }),
);

export interface HubSpotConnectorOptions {
  client: Client;
  fields: HubSpotFields;
  /** Longest a single call may take before it counts as a network failure. */
  timeoutMs?: number;
  /** The portal's shared request budget; every call waits for its turn. */
  budget?: RateBudget;
  /** Told about every call, for metrics. */
  onCall?: (call: CrmCallObservation) => void;
}

export class HubSpotConnector implements CrmConnector {
  readonly crm = 'hubspot' as const;
  private readonly client: Client;
  private readonly fields: HubSpotFields;
  private readonly timeoutMs: number;
  private readonly budget: RateBudget | undefined;
  private readonly onCall: ((call: CrmCallObservation) => void) | undefined;
  private stageOrder: string[] | undefined;

  constructor(opts: HubSpotConnectorOptions) {
    this.client = opts.client;
    this.fields = opts.fields;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.budget = opts.budget;
    this.onCall = opts.onCall;
  }

  /**
   * Every SDK call goes through here: paced by the shared rate budget, bounded in time, observed,
   * and any failure becomes a CrmError.
   */
  private async call<T>(endpoint: string, what: string, fn: () => Promise<T>): Promise<T> {
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
    ];
    for (const property of wanted) {
      const exists = await this.call('properties.get', `read property ${property.name}`, () =>
        this.client.crm.properties.coreApi.getByName('contacts', property.name).then(
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
          .create('contacts', {
            ...property,
            groupName: 'contactinformation',
            description: 'Maintained by leadflow',
          } as Parameters<Client['crm']['properties']['coreApi']['create']>[1])
          .catch((err: unknown) => {
            // Another worker created it between our read and our create.
            if ((err as { code?: unknown }).code !== 409) throw err;
          }),
      );
    }
  }

  async readProfile(lead: LeadRef): Promise<Profile> {
    const contact = await this.call('contacts.get', `read contact ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(lead.id, this.profileProperties()),
    );
    return this.toProfile(contact.properties);
  }

  async listLeads(after: string | undefined, limit: number): Promise<LeadPage> {
    const page = await this.call('contacts.list', 'list contacts', () =>
      this.client.crm.contacts.basicApi.getPage(Math.min(limit, 100), after, this.profileProperties()),
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
    for (let i = 0; i < writes.length; i += BATCH_MAX) {
      const chunk = writes.slice(i, i + BATCH_MAX);
      const inputs = chunk.map((w) => ({ id: w.lead.id, properties: this.scoreProperties(w.score) }));
      const response = await this.call('contacts.batch_update', 'write scores', () =>
        this.client.crm.contacts.batchApi.update({ inputs }),
      );
      if (!('errors' in response) || !response.errors?.length) continue;
      // 207: some records failed. Map each error back to its leads by the ids in its context.
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

  async advanceStage(lead: LeadRef, stage: 'mql' | 'sql', knownStage?: string): Promise<string> {
    const target = this.fields.stages[stage];
    const order = await this.stages();
    const atOrPast = (current: string) => current !== '' && order.indexOf(current) >= order.indexOf(target);
    const write = () =>
      this.call('contacts.update', `set stage of ${lead.id}`, () =>
        this.client.crm.contacts.basicApi.update(lead.id, {
          properties: { [this.fields.lifecycleStage]: target },
        }),
      );

    if (knownStage !== undefined) {
      if (atOrPast(knownStage)) return knownStage;
      try {
        // One round trip instead of two: the handoff's latency is mostly CRM round trips.
        await write();
        return target;
      } catch (err) {
        // A 400 means our copy was stale (the stage moved in HubSpot): read it and decide again.
        if (!(isCrmError(err) && err.failure.status === 400)) throw err;
      }
    }
    const contact = await this.call('contacts.get', `read stage of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(lead.id, [this.fields.lifecycleStage]),
    );
    const current = contact.properties[this.fields.lifecycleStage] ?? '';
    if (atOrPast(current)) return current;
    await write();
    return target;
  }

  /** The portal's stage order: the default one, or the property's options when the portal customized it. */
  private async stages(): Promise<string[]> {
    if (this.stageOrder) return this.stageOrder;
    const targets = Object.values(this.fields.stages);
    if (targets.every((t) => DEFAULT_STAGE_ORDER.includes(t))) return (this.stageOrder = DEFAULT_STAGE_ORDER);
    const property = await this.call('properties.get', 'read lifecycle stages', () =>
      this.client.crm.properties.coreApi.getByName('contacts', this.fields.lifecycleStage),
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
  ): Promise<NoteResult> {
    if (mayExist) {
      const existing = await this.findNote(lead, handoffId);
      if (existing) return { id: existing, created: false };
    }
    const note = await this.call('notes.create', `create note for ${lead.id}`, () =>
      this.client.crm.objects.notes.basicApi.create({
        properties: { hs_timestamp: new Date().toISOString(), hs_note_body: fitNoteBody(body, handoffId) },
        associations: [
          {
            to: { id: lead.id },
            types: [
              {
                associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined,
                associationTypeId: NOTE_TO_CONTACT,
              },
            ],
          },
        ],
      }),
    );
    return { id: note.id, created: true };
  }

  /** A note from an earlier attempt: listed through the association API, which is consistent at once (search is not). */
  private async findNote(lead: LeadRef, handoffId: string): Promise<string | undefined> {
    let after: string | undefined;
    do {
      const page = await this.call('associations.list', `list notes of ${lead.id}`, () =>
        this.client.crm.associations.v4.basicApi.getPage('contacts', lead.id, 'notes', after, 500),
      );
      const ids = page.results.map((r) => String(r.toObjectId));
      if (ids.length) {
        const notes = await this.call('notes.batch_read', 'read notes', () =>
          this.client.crm.objects.notes.batchApi.read({
            inputs: ids.map((id) => ({ id })),
            properties: ['hs_note_body'],
            propertiesWithHistory: [],
          }),
        );
        const match = notes.results.find((n) => n.properties.hs_note_body?.includes(handoffId));
        if (match) return match.id;
      }
      after = page.paging?.next?.after;
    } while (after);
    return undefined;
  }
}

/** HubSpot caps note bodies; keep the end (with the handoff id) and cut the middle. */
export function fitNoteBody(body: string, handoffId: string): string {
  if (body.length <= NOTE_BODY_MAX) return body;
  const tail = `<p>… (truncated)</p><p>Handoff ID: ${handoffId}</p>`;
  return body.slice(0, NOTE_BODY_MAX - tail.length) + tail;
}
