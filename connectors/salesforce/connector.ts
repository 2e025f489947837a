// Over 400 lines: the CrmConnector methods, which share the org's targets, stage order and composite
// requests; transport and call wrapper (api.ts) and Task shapes (tasks.ts) are out. The next cut
// would be the handoff composite (writeHandoff, its conversion fallback) into a file of its own.
import { z } from 'zod';
import {
  handoffMarker,
  type LeadRef,
  type Owner,
  type Profile,
  type RepTask,
} from '../../src/domain/index.js';
import { createOnce, findMarked, type MarkedRecord } from '../create-once.js';
import { CrmError, isCrmError } from '../errors.js';
import type {
  CreatedRecord,
  CrmConnector,
  DispositionWrite,
  HandoffWrite,
  HandoffWritten,
  LeadPage,
  RepActivity,
  StageAdvance,
} from '../types.js';
import {
  NO_AUTO_ASSIGN,
  QueryPage,
  Row,
  checkId,
  createdId,
  sfTime,
  toProfile,
  wholeSeconds,
  type SubRequest,
  type Target,
} from './api.js';
import { toSalesforceFailure } from './errors.js';
import { SalesforceScores } from './scores.js';
import { NOTE_SUBJECT, noteFields, repTaskFields } from './tasks.js';
import { RECORD_ID, soqlDatetime, soqlString } from './soql.js';

/** A single SOQL page holds at most 2,000 records. */
const QUERY_PAGE_MAX = 2_000;
/** Owners change rarely; a handoff should not wait for a listing each time. */
const OWNERS_TTL_MS = 10 * 60_000;
/** How far back a retry looks for the task an earlier attempt may have created (job retries span hours). */
const MARKER_LOOKBACK_MS = 30 * 86_400_000;
/** Lead requires LastName and Company; a lead made from the other CRM's profile may lack them. */
const NOT_PROVIDED = '[not provided]';
/** Fields that mean something only in the CRM they came from: never copied into a new lead. */
const OWNED_BY_US = new Set(['ownerId', 'leadStatus', 'dispositionReason', 'lifecycleStage']);
/** Every task or note we write carries this line; activity without it is a person's. */
const OUR_MARKER = handoffMarker('');
const CONTACT_PREFIX = '003';

/** A Lead's conversion: the Contact it became (`ConvertedContactId` is null until converted). */
const ConvertedLead = z.looseObject({
  IsConverted: z.boolean(),
  ConvertedContactId: z.string().regex(RECORD_ID).nullable(),
});

export class SalesforceConnector extends SalesforceScores implements CrmConnector {
  readonly crm = 'salesforce' as const;
  private ownerCache: { at: number; owners: Promise<Owner[]> } | undefined;

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

  async readProfile(lead: LeadRef): Promise<Profile> {
    const t = this.target(lead);
    const row = await this.call('sobjects.get', `read ${t.sObject} ${t.id}`, () =>
      this.send('GET', `/sobjects/${t.sObject}/${t.id}?fields=${this.profileFields(t).join(',')}`),
    );
    return toProfile(t, Row.parse(row));
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

  /**
   * Where a lifecycle value sits in the forward-only order: open values, empty and recycled (back
   * with marketing) 0, MQL 1, SQL 2. Anything else (working, converted, closed) belongs to sales:
   * undefined, and never moved.
   */
  private rank(value: string): number | undefined {
    const s = this.config.fields.stages;
    if (value === '' || s.open.includes(value) || value === s.recycled) return 0;
    if (value === s.mql) return 1;
    if (value === s.sql) return 2;
    return undefined;
  }

  private movesForward(current: string, stage: 'mql' | 'sql'): boolean {
    const from = this.rank(current);
    return from !== undefined && from < (stage === 'mql' ? 1 : 2);
  }

  /** The handoff's record update: stage and owner, and whether assignment rules may run. */
  private handoffUpdate(t: Target, stage: 'mql' | 'sql', ownerId: string | null | undefined) {
    const headers = this.assignHeaders();
    if (ownerId && headers) checkId(ownerId, 'owner');
    return {
      fields: {
        [t.lifecycle]: this.config.fields.stages[stage],
        ...(ownerId && headers ? { [t.owner]: ownerId } : {}),
      },
      headers,
    };
  }

  private async readStage(t: Target): Promise<string> {
    const row = await this.call('sobjects.get', `read stage of ${t.sObject} ${t.id}`, () =>
      this.send('GET', `/sobjects/${t.sObject}/${t.id}?fields=${t.lifecycle}`),
    );
    const value = Row.parse(row)[t.lifecycle];
    return typeof value === 'string' ? value : '';
  }

  /**
   * Moves the lifecycle field forward only. With `knownStage` the read is skipped: Salesforce has
   * no conditional update, so a stale copy is trusted as it is (the sync keeps it fresh).
   */
  async advanceStage(
    lead: LeadRef,
    stage: 'mql' | 'sql',
    knownStage?: string,
    ownerId?: string | null,
  ): Promise<StageAdvance> {
    const t = this.target(lead);
    const current = knownStage ?? (await this.readStage(t));
    if (!this.movesForward(current, stage)) return { stage: current, advanced: false };
    const update = this.handoffUpdate(t, stage, ownerId);
    await this.call('sobjects.update', `hand over ${t.sObject} ${t.id}`, () =>
      this.send('PATCH', `/sobjects/${t.sObject}/${t.id}`, update.fields, update.headers),
    );
    return { stage: this.config.fields.stages[stage], advanced: true };
  }

  /**
   * The whole handoff in one composite request, all or nothing: the record's stage (when it moves
   * forward), owner and scores, and the Task carrying the note (the rep task when there is one).
   * A retry (`mayExist`) first looks for the Task by its marker and leaves it out when found.
   *
   * A Lead sales converted meanwhile is read-only (CANNOT_UPDATE_CONVERTED_LEAD): the handoff is moot
   * — the person is sales' Contact now, with the owner sales gave it — so the Contact gets the scores
   * and the note as a closed Task, no owner, stage or rep task, and the answer says where it went.
   */
  async writeHandoff(write: HandoffWrite): Promise<HandoffWritten> {
    const t = this.target(write.lead);
    const current = write.knownStage ?? (await this.readStage(t));
    try {
      return await this.handoffComposite(write, t, current, this.movesForward(current, write.stage));
    } catch (err) {
      const converted = await this.conversionOf(t, err);
      if (!converted) throw err;
      this.logger?.info(
        { lead: t.id, contact: converted.contact.id, handoffId: write.handoffId },
        'lead already converted: handoff written to its contact as scores and a note',
      );
      const written = await this.handoffComposite(
        { ...write, ownerId: null, task: null },
        this.target(converted.contact),
        converted.status,
        false,
      );
      return { ...written, convertedTo: converted.contact };
    }
  }

  private async handoffComposite(
    write: HandoffWrite,
    t: Target,
    current: string,
    moves: boolean,
  ): Promise<HandoffWritten> {
    const existing = write.mayExist ? await findMarked(this.recentTasks(t), write.handoffId) : undefined;
    const update = moves
      ? this.handoffUpdate(t, write.stage, write.ownerId)
      : { fields: {}, headers: NO_AUTO_ASSIGN };
    const task = write.task
      ? repTaskFields(this.config, t.id, write.handoffId, { ...write.task, body: write.note.text })
      : noteFields(this.config, t.id, {
          key: write.handoffId,
          subject: write.note.subject,
          text: write.note.text,
          ownerId: write.ownerId,
          at: this.now(),
        });
    const taskHeaders = this.assignHeaders();
    const requests: SubRequest[] = [
      {
        method: 'PATCH',
        url: this.dataPath(`/sobjects/${t.sObject}/${t.id}`),
        referenceId: 'record',
        body: { ...this.scoreFields(write.score), ...update.fields },
        ...(update.headers ? { httpHeaders: update.headers } : {}),
      },
      ...(existing
        ? []
        : [
            {
              method: 'POST' as const,
              url: this.dataPath('/sobjects/Task'),
              referenceId: 'task',
              body: task,
              ...(taskHeaders ? { httpHeaders: taskHeaders } : {}),
            },
          ]),
    ];
    const answers = await this.composite(
      'composite.handoff',
      `hand over ${t.sObject} ${t.id}`,
      requests,
      true,
    );
    const taskId = existing ?? createdId(answers.get('task')?.body, `hand over ${t.sObject} ${t.id}`);
    const record = { id: taskId, created: existing === undefined };
    return {
      stage: moves ? this.config.fields.stages[write.stage] : current,
      advanced: moves,
      note: record,
      task: write.task ? record : null,
    };
  }

  /**
   * When a write to a Lead failed because sales converted it: the Contact it became and the Lead's
   * (converted) status. Undefined for any other failure.
   */
  private async conversionOf(
    t: Target,
    err: unknown,
  ): Promise<{ contact: LeadRef; status: string } | undefined> {
    if (t.sObject !== 'Lead' || !isCrmError(err) || err.failure.code !== 'CANNOT_UPDATE_CONVERTED_LEAD')
      return undefined;
    const row = ConvertedLead.parse(
      await this.call('sobjects.get', `read conversion of Lead ${t.id}`, () =>
        this.send('GET', `/sobjects/Lead/${t.id}?fields=IsConverted,ConvertedContactId,${t.lifecycle}`),
      ),
    );
    if (!row.IsConverted || !row.ConvertedContactId) return undefined;
    const status = row[t.lifecycle];
    return {
      contact: { crm: 'salesforce', objectType: 'contact', id: row.ConvertedContactId },
      status: typeof status === 'string' ? status : '',
    };
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

  /**
   * The lead's recent Tasks with their Description, where an earlier attempt's marker would be. Long
   * text cannot be filtered in SOQL, so the marker is looked for here.
   */
  private async *recentTasks(t: Target): AsyncIterable<MarkedRecord[]> {
    const since = soqlDatetime(wholeSeconds(this.now() - MARKER_LOOKBACK_MS));
    for await (const rows of this.soql(
      `SELECT Id, Description FROM Task WHERE WhoId = '${t.id}' AND CreatedDate >= ${since} ORDER BY CreatedDate DESC`,
    ))
      yield rows.map((r) => ({
        id: String(r.Id),
        body: typeof r.Description === 'string' ? r.Description : '',
      }));
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
    if (this.ownerCache && this.now() - this.ownerCache.at < OWNERS_TTL_MS) return this.ownerCache.owners;
    const owners = (async () => {
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
    })();
    this.ownerCache = { at: this.now(), owners };
    // A failed listing must not be cached.
    owners.catch(() => (this.ownerCache = undefined));
    return owners;
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
