import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/notes/index.js';
import { z } from 'zod';
import {
  containsMarker,
  handoffMarker,
  textToHtml,
  type LeadRef,
  type RepTask,
} from '../../src/domain/index.js';
import { Coalescer, type ItemOutcome } from '../coalesce.js';
import { createOnce, MARKER_LOOKBACK_MS, type MarkedRecord } from '../create-once.js';
import { CrmError } from '../errors.js';
import type { CreatedRecord, HandoffWrite, HandoffWritten } from '../types.js';
import type { HubSpotConnectorOptions } from './api.js';
import {
  BATCH_MAX,
  scoreProperties,
  updateContacts,
  type ContactUpdate,
  type UpdatedContact,
} from './scores.js';
import { HubSpotStages } from './stages.js';

const NOTE_BODY_MAX = 65_536;
const NOTE_TO_CONTACT = 202;
const TASK_TO_CONTACT = 204;
/** An association page (v4) holds up to 500 ids. */
const ASSOCIATIONS_PAGE = 500;
/**
 * Under a backlog a batch waits while it fills (Coalescer `fill`): a burst's jobs finish one every
 * few ms on one thread, so the 100 ms of a round trip hold ~20 of them, and a burst's unfilled
 * batches spent the portal's 100 requests per 10 s before the last leads were written. Quiet means
 * 250 ms without a new item: on a loaded machine the score stage's handoffs come tens of ms apart,
 * and 50 ms sent a batch of a handful in every lull (29 writes of each kind for 1,000 handoffs).
 */
const BATCH_FILL = { quietMs: 250, maxMs: 1_000 };

type Kind = 'notes' | 'tasks';
type ContactProperties = Record<string, string | null>;
/** A note or task to create on a contact, once per key (its marker). */
interface Creation {
  lead: LeadRef;
  key: string;
  properties: Record<string, string>;
}
/** The note or task an earlier attempt of `key` may have created on the contact. */
interface MarkerLookup {
  lead: LeadRef;
  key: string;
}

/** The slice of batch answers we rely on; results come in no guaranteed order. */
const ReadResults = z.array(
  z.object({ id: z.string(), properties: z.record(z.string(), z.string().nullable()) }),
);
/** A note or task read back: the SDK turns its `createdAt` into a Date. */
const CreatedResults = z.array(
  z.object({ id: z.string(), createdAt: z.date(), properties: z.record(z.string(), z.string().nullable()) }),
);
const CreateResults = z.array(z.object({ id: z.string(), objectWriteTraceId: z.string().optional() }));
const BatchErrors = z
  .array(
    z.object({
      message: z.string().default(''),
      category: z.string().optional(),
      context: z.record(z.string(), z.array(z.string())).optional(),
    }),
  )
  .default([]);
const AssociationResults = z.array(
  z.object({
    _from: z.object({ id: z.string() }),
    to: z.array(z.object({ toObjectId: z.union([z.string(), z.number()]) })),
    paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
  }),
);

/**
 * The records layer: the calls a handoff makes, shared across leads while there is a backlog
 * (pipeline.batching) — contact reads (batch/read), the contact write carrying stage, owner, lead
 * status and the scores together (batch/update), notes and tasks with their association inline
 * (batch/create), and a retry's marker lookups (associations batch/read, then the bodies). Each goes
 * through a Coalescer, one request of a kind in flight per process: a call that finds none in flight
 * goes out at once, so a lone handoff waits for nothing. Without batching every call is the lead's own.
 */
export abstract class HubSpotBatches extends HubSpotStages {
  /** Batching only: the whole handoff in one go (see handOver); the per-lead path writes in steps. */
  readonly writeHandoff?: (write: HandoffWrite) => Promise<HandoffWritten>;
  protected readonly batching: boolean;
  private readonly reads: Coalescer<string, ContactProperties>;
  private readonly updates: Coalescer<ContactUpdate, UpdatedContact | undefined>;
  private readonly creates: Record<Kind, Coalescer<Creation, string>>;
  private readonly lookups: Record<Kind, Coalescer<MarkerLookup, string | undefined>>;
  /** Creates under way in this process, by key: a second write of the same handoff joins the first. */
  private readonly creating: Record<Kind, Map<string, Promise<string>>> = {
    notes: new Map(),
    tasks: new Map(),
  };

  constructor(opts: HubSpotConnectorOptions) {
    super(opts);
    this.batching = opts.batching ?? false;
    this.reads = new Coalescer({
      max: BATCH_MAX,
      fill: BATCH_FILL,
      keyOf: (id) => id,
      send: (ids) => this.readContacts(ids),
    });
    // HubSpot refuses a batch update naming a contact twice.
    this.updates = new Coalescer({
      max: BATCH_MAX,
      fill: BATCH_FILL,
      keyOf: (u) => u.id,
      send: (inputs) =>
        updateContacts(inputs, (chunk) =>
          this.call(
            'contacts.batch_update',
            `update ${chunk.length} contacts`,
            () => this.client.crm.contacts.batchApi.update({ inputs: chunk }, this.sdk),
            undefined,
            chunk.length,
          ),
        ),
    });
    const creates = (kind: Kind) =>
      new Coalescer<Creation, string>({
        max: BATCH_MAX,
        fill: BATCH_FILL,
        keyOf: (c) => c.key,
        send: (items) => this.createBatch(kind, items),
      });
    this.creates = { notes: creates('notes'), tasks: creates('tasks') };
    const lookups = (kind: Kind) =>
      new Coalescer<MarkerLookup, string | undefined>({
        max: BATCH_MAX,
        send: (items) => this.lookUpMarkers(kind, items),
      });
    this.lookups = { notes: lookups('notes'), tasks: lookups('tasks') };
    if (this.batching) this.writeHandoff = (write) => this.handOver(write);
  }

  async createHandoffNote(
    lead: LeadRef,
    handoffId: string,
    body: string,
    mayExist: boolean,
  ): Promise<CreatedRecord> {
    return this.createOnContact('notes', lead, handoffId, mayExist, {
      hs_timestamp: new Date().toISOString(),
      hs_note_body: fitNoteBody(body, handoffId),
    });
  }

  async createRepTask(lead: LeadRef, key: string, task: RepTask, mayExist: boolean): Promise<CreatedRecord> {
    const properties: Record<string, string> = {
      hs_timestamp: new Date(task.dueAt).toISOString(),
      hs_task_subject: task.subject,
      hs_task_body: fitNoteBody(textToHtml(task.body), key),
      hs_task_status: 'NOT_STARTED',
      hs_task_priority: task.priority,
      hs_task_type: task.type,
    };
    if (task.ownerId) properties.hubspot_owner_id = task.ownerId;
    return this.createOnContact('tasks', lead, key, mayExist, properties);
  }

  /** The contact's profile properties and lifecycle stage: its own GET, or its id in a shared batch/read. */
  protected readContact(lead: LeadRef): Promise<ContactProperties> {
    if (this.batching) return this.reads.submit(lead.id);
    return this.call('contacts.get', `read contact ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        this.profileProperties(),
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    ).then((contact) => contact.properties);
  }

  protected override async readStage(lead: LeadRef): Promise<string> {
    if (!this.batching) return super.readStage(lead);
    return (await this.readContact(lead))[this.fields.lifecycleStage] ?? '';
  }

  /**
   * Stage, owner, lead status and the scores in the lead's one input of a shared batch update, its
   * note and task in shared batch creates, all at once. Not all or nothing: a retry (`mayExist`)
   * writes the contact again (the same values) and finds the note and task an earlier attempt made.
   */
  private async handOver(w: HandoffWrite): Promise<HandoffWritten> {
    const [advance, note, task] = await Promise.all([
      this.moveStage(
        w.lead,
        w.stage,
        w.knownStage,
        w.ownerId,
        scoreProperties(this.fields, w.score),
        (properties) => this.updates.submit({ id: w.lead.id, properties }),
      ),
      this.createHandoffNote(w.lead, w.handoffId, w.note.html, w.mayExist),
      w.task ? this.createRepTask(w.lead, w.handoffId, w.task, w.mayExist) : null,
    ]);
    return { ...advance, note, task };
  }

  /** A note or task on the contact, once per key: a retry finds an earlier attempt's by its marker. */
  private async createOnContact(
    kind: Kind,
    lead: LeadRef,
    key: string,
    mayExist: boolean,
    properties: Record<string, string>,
  ): Promise<CreatedRecord> {
    if (this.batching) {
      // A job BullMQ took for stalled (its lock lapsed in a Redis outage) runs again while its first
      // run still writes; the coalescer would put the second create in the next batch: a second note.
      const creating = this.creating[kind];
      const joined = creating.get(key);
      if (joined) return { id: await joined, created: false };
      const existing = mayExist ? await this.lookups[kind].submit({ lead, key }) : undefined;
      if (existing) return { id: existing, created: false };
      const again = creating.get(key);
      if (again) return { id: await again, created: false };
      const created = this.creates[kind].submit({ lead, key, properties });
      creating.set(key, created);
      try {
        return { id: await created, created: true };
      } finally {
        creating.delete(key);
      }
    }
    return createOnce(
      key,
      mayExist,
      () => this.associated(lead, kind),
      async () => {
        const input = { properties, associations: [toContact(lead, kind)] };
        const created = await this.call(`${kind}.create`, `create ${kind.slice(0, -1)} for ${lead.id}`, () =>
          kind === 'notes'
            ? this.client.crm.objects.notes.basicApi.create(input, this.sdk)
            : this.client.crm.objects.tasks.basicApi.create(input, this.sdk),
        );
        return created.id;
      },
    );
  }

  /** Contacts by id in one batch/read; one HubSpot does not have fails alone (404). */
  private async readContacts(ids: string[]): Promise<ItemOutcome<ContactProperties>[]> {
    const answer = await this.call(
      'contacts.batch_read',
      `read ${ids.length} contacts`,
      () =>
        this.client.crm.contacts.batchApi.read(
          {
            inputs: ids.map((id) => ({ id })),
            properties: this.profileProperties(),
            propertiesWithHistory: [],
          },
          undefined,
          this.sdk,
        ),
      undefined,
      ids.length,
    );
    // 207: the ids HubSpot could not find are named in its errors; the others are in `results`.
    const found = new Map(ReadResults.parse(answer.results).map((r) => [r.id, r.properties]));
    return ids.map((id): ItemOutcome<ContactProperties> => {
      const properties = found.get(id);
      if (properties) return { ok: true, value: properties };
      return {
        ok: false,
        error: new CrmError({
          crm: 'hubspot',
          status: 404,
          code: 'OBJECT_NOT_FOUND',
          message: `read contact ${id}: no such contact (deleted or merged away)`,
        }),
      };
    });
  }

  /**
   * Notes or tasks in one batch/create, each associated to its contact inline. Each input carries
   * its key as objectWriteTraceId: HubSpot then answers 207 with the inputs it refused (the others
   * are created), and each result names its input, since their order is not guaranteed.
   */
  private async createBatch(kind: Kind, items: Creation[]): Promise<ItemOutcome<string>[]> {
    const inputs = items.map((c) => ({
      properties: c.properties,
      associations: [toContact(c.lead, kind)],
      objectWriteTraceId: c.key,
    }));
    const what = `create ${items.length} ${kind}`;
    const answer = await this.call(
      `${kind}.batch_create`,
      what,
      () =>
        kind === 'notes'
          ? this.client.crm.objects.notes.batchApi.create({ inputs }, this.sdk)
          : this.client.crm.objects.tasks.batchApi.create({ inputs }, this.sdk),
      undefined,
      items.length,
    );
    const created = new Map(CreateResults.parse(answer.results).map((r) => [r.objectWriteTraceId, r.id]));
    const refused = new Map<string, CrmError>();
    for (const error of BatchErrors.parse('errors' in answer ? answer.errors : undefined))
      for (const key of error.context?.objectWriteTraceId ?? [])
        refused.set(
          key,
          new CrmError({
            crm: 'hubspot',
            status: 400,
            code: error.category,
            message: `${what}: ${error.message}`,
          }),
        );
    return items.map((c): ItemOutcome<string> => {
      const id = created.get(c.key);
      if (id) return { ok: true, value: id };
      return {
        ok: false,
        error:
          refused.get(c.key) ??
          new CrmError({ crm: 'hubspot', status: 502, message: `${what}: no answer for ${c.key}` }),
      };
    });
  }

  /**
   * Earlier attempts' notes or tasks of many handoffs: their contacts' associations in one v4 batch
   * read, then the associated records' bodies, 100 a read, where the markers are.
   */
  private async lookUpMarkers(kind: Kind, items: MarkerLookup[]): Promise<ItemOutcome<string | undefined>[]> {
    const contacts = [...new Set(items.map((i) => i.lead.id))];
    const answer = await this.call(
      `associations.batch_read`,
      `list ${kind} of ${contacts.length} contacts`,
      () =>
        this.client.crm.associations.v4.batchApi.getPage(
          'contacts',
          kind,
          { inputs: contacts.map((id) => ({ id })) },
          this.sdk,
        ),
    );
    const owned = new Map<string, string>(); // record id → contact id
    for (const result of AssociationResults.parse(answer.results)) {
      for (const to of result.to) owned.set(String(to.toObjectId), result._from.id);
      // A contact with more than a page of them: its other pages one by one, as without batching.
      if (result.paging?.next)
        for await (const page of this.associated(contactRef(result._from.id), kind))
          for (const r of page) owned.set(r.id, result._from.id);
    }
    const records: (MarkedRecord & { contact: string })[] = [];
    const ids = [...owned.keys()];
    for (let i = 0; i < ids.length; i += BATCH_MAX)
      for (const r of await this.readBodies(kind, ids.slice(i, i + BATCH_MAX)))
        records.push({ ...r, contact: owned.get(r.id)! });
    return items.map(({ lead, key }) => ({
      ok: true,
      value: records.find((r) => r.contact === lead.id && containsMarker(r.body, key))?.id,
    }));
  }

  /**
   * The notes or tasks of a contact with their bodies, for the marker lookup: listed through the
   * association API, which is consistent at once (search is not).
   */
  private async *associated(lead: LeadRef, kind: Kind): AsyncIterable<MarkedRecord[]> {
    let after: string | undefined;
    do {
      const page = await this.call('associations.list', `list ${kind} of ${lead.id}`, () =>
        this.client.crm.associations.v4.basicApi.getPage(
          'contacts',
          lead.id,
          kind,
          after,
          ASSOCIATIONS_PAGE,
          this.sdk,
        ),
      );
      const ids = page.results.map((r) => String(r.toObjectId));
      // An association page holds up to 500 ids; a batch read takes at most 100.
      for (let i = 0; i < ids.length; i += BATCH_MAX)
        yield await this.readBodies(kind, ids.slice(i, i + BATCH_MAX));
      after = page.paging?.next?.after;
    } while (after);
  }

  /**
   * Up to 100 notes or tasks with the body that carries the marker, those created within the
   * marker lookback only (an association list cannot be filtered by date).
   */
  private async readBodies(kind: Kind, ids: string[]): Promise<MarkedRecord[]> {
    const bodyProperty = kind === 'notes' ? 'hs_note_body' : 'hs_task_body';
    const body = { inputs: ids.map((id) => ({ id })), properties: [bodyProperty], propertiesWithHistory: [] };
    const found = await this.call(`${kind}.batch_read`, `read ${kind}`, () =>
      kind === 'notes'
        ? this.client.crm.objects.notes.batchApi.read(body, undefined, this.sdk)
        : this.client.crm.objects.tasks.batchApi.read(body, undefined, this.sdk),
    );
    const since = Date.now() - MARKER_LOOKBACK_MS;
    return CreatedResults.parse(found.results)
      .filter((r) => r.createdAt.getTime() >= since)
      .map((r) => ({ id: r.id, body: r.properties[bodyProperty] ?? '' }));
  }
}

const contactRef = (id: string): LeadRef => ({ crm: 'hubspot', objectType: 'contact', id });

function toContact(lead: LeadRef, kind: Kind) {
  return {
    to: { id: lead.id },
    types: [
      {
        associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined,
        associationTypeId: kind === 'notes' ? NOTE_TO_CONTACT : TASK_TO_CONTACT,
      },
    ],
  };
}

/** HubSpot caps note bodies; keep the end (with the handoff id) and cut the middle. */
export function fitNoteBody(body: string, handoffId: string): string {
  if (body.length <= NOTE_BODY_MAX) return body;
  const tail = `<p>… (truncated)</p><p>${handoffMarker(handoffId)}</p>`;
  return body.slice(0, NOTE_BODY_MAX - tail.length) + tail;
}
