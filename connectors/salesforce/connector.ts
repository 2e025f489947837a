import {
  handoffMarker,
  type FieldLabels,
  type LeadRef,
  type Owner,
  type Profile,
  type RepTask,
} from '../../src/domain/index.js';
import { createOnce } from '../create-once.js';
import { CrmError, isCrmError } from '../errors.js';
import { LABELS_TTL_MS, OWNERS_TTL_MS, labelsOf, memo } from '../memo.js';
import type { CreatedRecord, CrmConnector, DispositionWrite, LeadPage, RepActivity } from '../types.js';
import {
  NO_AUTO_ASSIGN,
  QueryPage,
  Row,
  checkId,
  createdId,
  sfTime,
  toProfile,
  wholeSeconds,
  type Target,
} from './api.js';
import { toSalesforceFailure } from './errors.js';
import { SalesforceHandoff } from './handoff.js';
import { NOTE_SUBJECT, noteFields, repTaskFields } from './tasks.js';
import { soqlDatetime, soqlString } from './soql.js';

/** A single SOQL page holds at most 2,000 records. */
const QUERY_PAGE_MAX = 2_000;
/** Lead requires LastName and Company; a lead made from the other CRM's profile may lack them. */
const NOT_PROVIDED = '[not provided]';
/** Fields that mean something only in the CRM they came from: never copied into a new lead. */
const OWNED_BY_US = new Set(['ownerId', 'leadStatus', 'dispositionReason', 'lifecycleStage']);
/** Every task or note we write carries this line; activity without it is a person's. */
const OUR_MARKER = handoffMarker('');
const CONTACT_PREFIX = '003';

/**
 * The Salesforce adapter, the one class implementing CrmConnector. It builds on layers, each its own
 * file: the call wrapper and requests (api.ts), the score writes (scores.ts), the requests handoffs
 * share across leads (batches.ts) and the handoff's writes (handoff.ts); the Tasks it writes are
 * shaped in tasks.ts.
 */
export class SalesforceConnector extends SalesforceHandoff implements CrmConnector {
  readonly crm = 'salesforce' as const;
  private readonly ownerList = memo(() => this.readOwners(), OWNERS_TTL_MS, this.now);
  private readonly labels = memo(() => this.readLabels(), LABELS_TTL_MS, this.now);

  /**
   * Salesforce custom fields need the Metadata API (and a deployment) to create, so this only
   * checks that the fields the config maps exist, and lists every missing one for the admin.
   */
  async ensureSchema(): Promise<void> {
    const f = this.config.fields;
    const own = [f.score, f.fitScore, f.engagementScore, f.scoreReasons, f.badData, f.unmarketable.field];
    const wanted: [string, string[]][] = [
      ['Lead', [...Object.values(f.lead), f.lifecycle.lead, ...own]],
      ['Contact', [...Object.values(f.contact), f.lifecycle.contact, ...own]],
      [
        'Task',
        ['WhoId', 'OwnerId', 'Subject', 'Description', 'ActivityDate', 'Status', 'Priority', 'TaskSubtype'],
      ],
    ];
    const missing: string[] = [];
    for (const [sObject, names] of wanted) {
      const have = new Set((await this.describe(sObject)).fields.map((d) => d.name.toLowerCase()));
      for (const name of new Set(names))
        if (!have.has(name.toLowerCase())) missing.push(`${sObject}.${name}`);
    }
    if (missing.length)
      throw new CrmError({
        crm: 'salesforce',
        status: 400,
        code: 'MISSING_FIELDS',
        message: `create these fields in Setup → Object Manager (or fix salesforce.fields): ${missing.join(', ')}`,
      });
  }

  fieldLabels(): Promise<FieldLabels> {
    return this.labels();
  }

  /** Picklist labels of the mapped Lead fields, then of the Contact fields the Lead's lack. */
  private async readLabels(): Promise<FieldLabels> {
    const f = this.config.fields;
    const of = async (sObject: string, mapping: Record<string, string>) => {
      const { fields } = await this.describe(sObject);
      const active = fields.map(
        (d) => [d.name.toLowerCase(), d.picklistValues.filter((p) => p.active)] as const,
      );
      return labelsOf(mapping, new Map(active));
    };
    const [lead, contact] = await Promise.all([of('Lead', f.lead), of('Contact', f.contact)]);
    return { ...contact, ...lead };
  }

  /** The record's page in Lightning Experience. */
  recordUrl(lead: LeadRef): Promise<string> {
    const t = this.target(lead);
    return Promise.resolve(`${this.session.conn.instanceUrl}/lightning/r/${t.sObject}/${t.id}/view`);
  }

  async readProfile(lead: LeadRef): Promise<Profile> {
    const t = this.target(lead);
    return toProfile(t, await this.readRecord(t, this.profileFields(t)));
  }

  /**
   * Unconverted Leads by Id, then Contacts by Id. The cursor is the last Id read: its key prefix
   * says which of the two the next page continues.
   */
  async listLeads(after: string | undefined, limit: number): Promise<LeadPage> {
    const size = Math.max(1, Math.min(limit, QUERY_PAGE_MAX));
    if (after !== undefined) checkId(after, 'cursor');
    const onContacts = after?.startsWith(CONTACT_PREFIX) ?? false;
    const leads = onContacts ? [] : await this.leadPage('lead', after, size);
    if (leads.length === size) return { leads, next: leads.at(-1)?.lead.id };
    const contacts = await this.leadPage('contact', onContacts ? after : undefined, size - leads.length);
    return {
      leads: [...leads, ...contacts],
      next: contacts.length === size - leads.length ? contacts.at(-1)?.lead.id : undefined,
    };
  }

  private async leadPage(objectType: LeadRef['objectType'], after: string | undefined, size: number) {
    const t = this.objectOf(objectType);
    const where = [
      ...(t.sObject === 'Lead' ? ['IsConverted = false'] : []),
      ...(after ? [`Id > '${after}'`] : []),
    ];
    const page = await this.queryPage(
      `SELECT ${this.profileFields(t).join(', ')} FROM ${t.sObject}` +
        `${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY Id LIMIT ${size}`,
    );
    return page.records.map((row) => ({
      lead: { crm: 'salesforce' as const, objectType, id: String(row.Id) },
      profile: toProfile(t, row),
    }));
  }

  async createHandoffNote(
    lead: LeadRef,
    handoffId: string,
    body: string,
    mayExist: boolean,
  ): Promise<CreatedRecord> {
    const t = this.target(lead);
    return this.createTaskOnce(t, handoffId, mayExist, () =>
      noteFields(this.config, t.id, {
        key: handoffId,
        subject: NOTE_SUBJECT,
        text: body,
        ownerId: null,
        at: this.now(),
      }),
    );
  }

  async createRepTask(lead: LeadRef, key: string, task: RepTask, mayExist: boolean): Promise<CreatedRecord> {
    const t = this.target(lead);
    return this.createTaskOnce(t, key, mayExist, () => repTaskFields(this.config, t.id, key, task));
  }

  private createTaskOnce(
    t: Target,
    key: string,
    mayExist: boolean,
    fields: () => Record<string, unknown>,
  ): Promise<CreatedRecord> {
    return createOnce(
      key,
      mayExist,
      () => this.recentTasks(t),
      async () => {
        const what = `create task on ${t.sObject} ${t.id}`;
        const answer = await this.call('sobjects.create', what, () =>
          this.send('POST', '/sobjects/Task', fields(), this.assignHeaders()),
        );
        return createdId(answer, what);
      },
    );
  }

  /** The note is a Task too (a completed one, or the rep task's description). */
  async deleteActivity(lead: LeadRef, _kind: 'note' | 'task', id: string): Promise<void> {
    checkId(id, 'task');
    const t = this.target(lead);
    try {
      await this.call('sobjects.delete', `delete Task ${id} of ${t.sObject} ${t.id}`, () =>
        this.send('DELETE', `/sobjects/Task/${id}`),
      );
    } catch (err) {
      if (!(isCrmError(err) && err.failure.status === 404)) throw err;
    }
  }

  /** The lead and its open task to another owner, in one composite request. */
  async reassign(lead: LeadRef, ownerId: string, taskId: string | null): Promise<void> {
    const t = this.target(lead);
    checkId(ownerId, 'owner');
    if (taskId) checkId(taskId, 'task');
    const what = `reassign ${t.sObject} ${t.id}`;
    // An explicit owner: assignment rules must not override it, whatever the routing mode.
    const record = { [t.owner]: ownerId };
    if (!taskId) {
      await this.call('sobjects.update', what, () =>
        this.send('PATCH', `/sobjects/${t.sObject}/${t.id}`, record, NO_AUTO_ASSIGN),
      );
      return;
    }
    await this.composite(
      'composite.reassign',
      what,
      [
        {
          method: 'PATCH',
          url: this.dataPath(`/sobjects/${t.sObject}/${t.id}`),
          referenceId: 'record',
          body: record,
          httpHeaders: NO_AUTO_ASSIGN,
        },
        {
          method: 'PATCH',
          url: this.dataPath(`/sobjects/Task/${taskId}`),
          referenceId: 'task',
          body: { OwnerId: ownerId },
          httpHeaders: NO_AUTO_ASSIGN,
        },
      ],
      true,
    );
  }

  /**
   * The rep's first sign of work since `since`, read in one composite request: the handoff task
   * completed, a Task or Event on the lead that we did not write (ours carry the marker), or the
   * lifecycle field moved on from the handed-off values.
   */
  async repActivity(lead: LeadRef, since: number, taskId: string | null): Promise<RepActivity | null> {
    const t = this.target(lead);
    if (taskId) checkId(taskId, 'task');
    const after = soqlDatetime(wholeSeconds(since));
    const activities = (sObject: string) =>
      this.dataPath(
        `/query?q=${encodeURIComponent(
          `SELECT Id, Description, CreatedDate FROM ${sObject} WHERE WhoId = '${t.id}' AND CreatedDate > ${after} ORDER BY CreatedDate ASC LIMIT 50`,
        )}`,
      );
    const answers = await this.composite(
      'composite.activity',
      `read activity of ${t.sObject} ${t.id}`,
      [
        ...(taskId
          ? [
              {
                method: 'GET' as const,
                url: this.dataPath(
                  `/sobjects/Task/${taskId}?fields=IsClosed,CompletedDateTime,LastModifiedDate`,
                ),
                referenceId: 'task',
              },
            ]
          : []),
        { method: 'GET', url: activities('Task'), referenceId: 'tasks' },
        { method: 'GET', url: activities('Event'), referenceId: 'events' },
        {
          method: 'GET',
          url: this.dataPath(`/sobjects/${t.sObject}/${t.id}?fields=${t.lifecycle},LastModifiedDate`),
          referenceId: 'record',
        },
      ],
      false,
    );
    const ok = (ref: string) => {
      const answer = answers.get(ref);
      if (!answer || answer.status >= 400) {
        const failure = answer
          ? toSalesforceFailure({ httpStatusCode: answer.status, body: answer.body })
          : null;
        throw new CrmError({
          ...(failure ?? { crm: 'salesforce', status: 502 }),
          message: `read activity of ${t.sObject} ${t.id} (${ref}): ${failure?.message ?? 'no answer'}`,
        });
      }
      return answer.body;
    };

    if (taskId) {
      const task = Row.parse(ok('task'));
      if (task.IsClosed === true)
        return {
          what: 'task completed',
          at: sfTime(task.CompletedDateTime ?? task.LastModifiedDate) ?? this.now(),
        };
    }
    const theirs = [...QueryPage.parse(ok('tasks')).records, ...QueryPage.parse(ok('events')).records]
      .filter(
        (r) => r.Id !== taskId && !(typeof r.Description === 'string' && r.Description.includes(OUR_MARKER)),
      )
      .map((r) => ({ at: sfTime(r.CreatedDate), sObject: String(r.Id).startsWith('00U') ? 'event' : 'task' }))
      .filter((r): r is { at: number; sObject: string } => r.at !== undefined && r.at > since)
      .sort((a, b) => a.at - b.at);
    if (theirs[0]) return { what: `${theirs[0].sObject} logged`, at: theirs[0].at };

    const record = Row.parse(ok('record'));
    const status = typeof record[t.lifecycle] === 'string' ? (record[t.lifecycle] as string) : '';
    const { stages } = this.config.fields;
    if (status && status !== stages.mql && status !== stages.sql && !stages.open.includes(status))
      return { what: `${t.lifecycle} ${status}`, at: sfTime(record.LastModifiedDate) ?? this.now() };
    return null;
  }

  owners(): Promise<Owner[]> {
    return this.ownerList();
  }

  private async readOwners(): Promise<Owner[]> {
    const found: Owner[] = [];
    for await (const rows of this.soql(
      "SELECT Id, Name, Email, IsActive FROM User WHERE UserType = 'Standard'",
    ))
      for (const r of rows)
        found.push({
          id: String(r.Id),
          name: typeof r.Name === 'string' ? r.Name : undefined,
          email: typeof r.Email === 'string' ? r.Email : undefined,
          active: r.IsActive === true,
        });
    return found;
  }

  async applyDisposition(lead: LeadRef, action: DispositionWrite): Promise<void> {
    const t = this.target(lead);
    const f = this.config.fields;
    const fields: Record<string, string | boolean> = {
      recycle: { [t.lifecycle]: f.stages.recycled },
      disqualify: { [t.lifecycle]: f.stages.disqualified },
      unmarket: { [f.unmarketable.field]: f.unmarketable.value },
      bad_data: { [f.badData]: true },
    }[action];
    await this.call('sobjects.update', `${action} ${t.sObject} ${t.id}`, () =>
      this.send('PATCH', `/sobjects/${t.sObject}/${t.id}`, fields, NO_AUTO_ASSIGN),
    );
  }

  /**
   * The unconverted Lead, else the Contact, with this email; with `create`, a new Lead from the
   * profile when neither exists.
   */
  async matchLead(profile: Profile, create: boolean): Promise<LeadRef | null> {
    const email = typeof profile.email === 'string' ? profile.email.trim().toLowerCase() : '';
    if (!email) return null;
    const literal = soqlString(email);
    const queries: [LeadRef['objectType'], string][] = [
      [
        'lead',
        `SELECT Id FROM Lead WHERE Email = ${literal} AND IsConverted = false ORDER BY CreatedDate LIMIT 1`,
      ],
      ['contact', `SELECT Id FROM Contact WHERE Email = ${literal} ORDER BY CreatedDate LIMIT 1`],
    ];
    for (const [objectType, query] of queries) {
      const [found] = (await this.queryPage(query)).records;
      if (found) return { crm: 'salesforce', objectType, id: String(found.Id) };
    }
    if (!create) return null;

    const mapping = this.config.fields.lead;
    const fields: Record<string, string | number | boolean> = {};
    for (const [field, name] of Object.entries(mapping)) {
      const value = profile[field];
      if (!OWNED_BY_US.has(field) && value !== undefined && value !== null && value !== '')
        fields[name] = value;
    }
    fields[mapping.email ?? 'Email'] = email;
    // Lead requires LastName and Company; the other CRM may not know them, so a placeholder the
    // rep can see and fix stands in rather than failing the handoff.
    for (const required of [mapping.lastName ?? 'LastName', mapping.company ?? 'Company'])
      if (fields[required] === undefined) fields[required] = NOT_PROVIDED;
    const what = 'create lead from the other CRM';
    const answer = await this.call('sobjects.create', what, () =>
      this.send('POST', '/sobjects/Lead', fields, this.assignHeaders()),
    );
    return { crm: 'salesforce', objectType: 'lead', id: createdId(answer, what) };
  }
}
