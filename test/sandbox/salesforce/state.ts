import { z } from 'zod';
import { defaultDescribes, TASK_STATUSES, type SObjectDescribe } from './describe.js';
import { notFound, sfDatetime } from './errors.js';
import { to18, type SoqlRow } from '../soql.js';

/**
 * The org in memory: records, describe metadata, the daily API allocation, injected faults, the
 * connected app, and the settings (assignment rules, triggers) that change what a save does.
 */

export type FieldValue = string | number | boolean | null;
export type SfRecord = { Id: string } & Record<string, FieldValue>;

const Count = z.number().int().min(0);
/** Counters: each makes the next n API requests (or, for lock rows, record writes) fail. */
export const SalesforceFaults = z.object({
  /** 403 REQUEST_LIMIT_EXCEEDED, as when the org's daily allocation is spent. */
  requestLimitExceeded: Count,
  /** 401 INVALID_SESSION_ID, as when the access token expired. */
  invalidSession: Count,
  /** UNABLE_TO_LOCK_ROW on a record write (per record and per composite subrequest). */
  lockRow: Count,
  /** UNABLE_TO_LOCK_ROW wrapped in a trigger's CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY. */
  wrappedLockRow: Count,
  /** 503 SERVER_UNAVAILABLE. */
  serverError: Count,
});
export type SalesforceFaults = z.infer<typeof SalesforceFaults>;

export interface SalesforceOAuthApp {
  clientId: string;
  clientSecret: string;
  /** Accepted by the refresh_token grant. */
  refreshToken?: string;
  /** Verifies JWT bearer assertions (RS256), as the connected app's uploaded certificate does. */
  jwtPublicKeyPem?: string;
  /** The `sub` a JWT bearer assertion must name. */
  username?: string;
  /** Experience Cloud site URLs of the org, also accepted as a JWT bearer `aud`. */
  experienceCloudUrls?: string[];
}

export const DEFAULT_ORG_ID = '00D000000000001AAA';
export const ADMIN_USER_ID = '005000000000001AAA';
export const REP_USER_ID = '005000000000002AAA';
export const INACTIVE_USER_ID = '005000000000009AAA';
export const MANAGER_USER_ID = '005000000000004AAA';
export const DEFAULT_API_VERSION = '62.0';

/** A fresh org's closed Task statuses (TaskStatus.IsClosed); orgs add their own. */
const CLOSED_TASK_STATUSES = new Set(['Completed']);
/** sObjects whose `Name` is compound: FirstName LastName. */
const PERSON_SOBJECTS = new Set(['Lead', 'Contact', 'User']);
/** Campaign member statuses counted as responses (Salesforce's `Responded` plus webinar `Attended`). */
const RESPONDED_STATUSES = new Set(['Responded', 'Attended']);

const SEED_USERS: Record<string, FieldValue>[] = [
  { Id: ADMIN_USER_ID, FirstName: 'Ada', LastName: 'Admin', Email: 'ada@sales.example', IsActive: true },
  { Id: REP_USER_ID, FirstName: 'Ben', LastName: 'Okafor', Email: 'ben@sales.example', IsActive: true },
  { Id: MANAGER_USER_ID, FirstName: 'Maya', LastName: 'Chen', Email: 'maya@sales.example', IsActive: true },
  { Id: INACTIVE_USER_ID, FirstName: 'Ivo', LastName: 'Gone', Email: 'ivo@sales.example', IsActive: false },
];

/** A validation rule: a save whose record (as it would be stored) `fails` is refused with `message`. */
export interface ValidationRule {
  sObject: string;
  fails: (record: Record<string, FieldValue>) => boolean;
  message: string;
  /** The field the error is shown on; none means the top of the page. */
  field?: string;
}

type Store = Map<string, Map<string, SfRecord>>;

export class SalesforceState {
  orgId = DEFAULT_ORG_ID;
  /** sObject name → describe; mutable, so tests can add fields or picklist values. */
  describe = new Map<string, SObjectDescribe>();
  /** Daily API allocation; every REST answer reports it in `Sforce-Limit-Info`. */
  apiUsage = { used: 0, max: 15_000 };
  faults: SalesforceFaults = emptyFaults();
  oauth: SalesforceOAuthApp | undefined;
  /** When set, Lead writes without `Sforce-Auto-Assign: FALSE` get this owner, as assignment rules would. */
  assignmentRuleOwner: string | undefined;
  /**
   * A trigger on Task that updates the Task's Lead (a common activity roll-up): that indirect Lead
   * update runs assignment rules too unless the Task write said `Sforce-Auto-Assign: FALSE`.
   */
  taskTriggerUpdatesLead = false;
  /** The org's validation rules (Setup → Object Manager → Validation Rules), checked on every API save. */
  validationRules: ValidationRule[] = [];
  /** Every record saved through the API, with whether its request let assignment rules run. */
  saves: { sObject: string; id: string; autoAssign: boolean }[] = [];
  /** The integration user: default owner of created records, and the user tokens are issued for. */
  runningUserId = ADMIN_USER_ID;
  /** Token grants answered. */
  refreshes = 0;
  /** Time source of record stamps, replaceable by tests. */
  clock: () => number = Date.now;
  private store: Store = new Map();
  private readonly revoked = new Set<string>();
  /** Query locator id → the rows of that query. */
  readonly cursors = new Map<string, SoqlRow[]>();
  private nextId = 1;

  constructor() {
    this.reset();
  }

  reset(): void {
    this.orgId = DEFAULT_ORG_ID;
    this.describe = defaultDescribes();
    this.apiUsage = { used: 0, max: 15_000 };
    this.faults = emptyFaults();
    this.oauth = undefined;
    this.assignmentRuleOwner = undefined;
    this.taskTriggerUpdatesLead = false;
    this.validationRules = [];
    this.saves = [];
    this.runningUserId = ADMIN_USER_ID;
    this.refreshes = 0;
    this.clock = Date.now;
    this.store = new Map();
    this.revoked.clear();
    this.cursors.clear();
    this.nextId = 1;
    for (const user of SEED_USERS) this.insert('User', { ...user, UserType: 'Standard' });
    for (const [i, value] of TASK_STATUSES.entries())
      this.insert('TaskStatus', {
        ApiName: value,
        MasterLabel: value,
        IsClosed: CLOSED_TASK_STATUSES.has(value),
        IsDefault: i === 0,
        SortOrder: i + 1,
      });
  }

  /** An admin adds a Task status (Setup → Task Fields → Status), closed or not, e.g. 'Done'. */
  addTaskStatus(value: string, closed: boolean): void {
    const status = this.describeOf('Task').fields.find((f) => f.name === 'Status')!;
    status.picklistValues.push({ value, label: value, active: true, defaultValue: false });
    this.insert('TaskStatus', {
      ApiName: value,
      MasterLabel: value,
      IsClosed: closed,
      IsDefault: false,
      SortOrder: status.picklistValues.length,
    });
  }

  /** From now on requests with this token get 401 INVALID_SESSION_ID. */
  revokeToken(token: string): void {
    this.revoked.add(token);
  }

  acceptsToken(token: string | undefined): boolean {
    return token !== undefined && !this.revoked.has(token);
  }

  /** Stores a record as given (no validation: for seeding), with defaults, derived fields and stamps. */
  insert(sObject: string, fields: Record<string, FieldValue>): string {
    const describe = this.describeOf(sObject);
    const id = typeof fields.Id === 'string' ? to18(fields.Id) : this.newId(describe.keyPrefix);
    const record: SfRecord = { ...defaults(describe, this.runningUserId), ...fields, Id: id };
    this.finish(describe, undefined, record, new Set(Object.keys(fields)));
    this.table(describe.name).set(id, record);
    return id;
  }

  /**
   * Converts a Lead as SOAP `convertLead` does (no opportunity): a new Account (named after the
   * Company) and Contact, the Lead marked converted with the converted status and pointing at both,
   * and its activities moved to the Contact. Answers the Contact's id.
   */
  convertLead(leadId: string, convertedStatus = 'Closed - Converted'): string {
    const lead = this.get('Lead', leadId);
    if (!lead) throw new Error(`no Lead ${leadId} in the sandbox`);
    const accountId = this.insert('Account', { Name: lead.Company ?? null, OwnerId: lead.OwnerId ?? null });
    const contactId = this.insert('Contact', {
      FirstName: lead.FirstName ?? null,
      LastName: lead.LastName ?? null,
      Email: lead.Email ?? null,
      Title: lead.Title ?? null,
      OwnerId: lead.OwnerId ?? null,
      AccountId: accountId,
    });
    this.update('Lead', lead.Id, {
      IsConverted: true,
      Status: convertedStatus,
      ConvertedContactId: contactId,
      ConvertedAccountId: accountId,
      ConvertedDate: sfDatetime(this.clock()).slice(0, 10),
    });
    for (const sObject of ['Task', 'Event'])
      for (const activity of this.records(sObject))
        if (activity.WhoId === lead.Id) this.update(sObject, activity.Id, { WhoId: contactId });
    return contactId;
  }

  /** Changes a record as given (no validation: for seeding), re-deriving fields and stamps. */
  update(sObject: string, id: string, fields: Record<string, FieldValue>): void {
    const describe = this.describeOf(sObject);
    const current = this.table(describe.name).get(to18(id));
    if (!current) throw new Error(`no ${sObject} ${id} in the sandbox`);
    const next: SfRecord = { ...current, ...fields, Id: current.Id };
    this.finish(describe, current, next, new Set(Object.keys(fields)));
    this.table(describe.name).set(current.Id, next);
  }

  get(sObject: string, id: string): SfRecord | undefined {
    const found = this.existingTable(sObject)?.get(to18(id));
    return found && { ...found };
  }

  records(sObject: string): SfRecord[] {
    return [...(this.existingTable(sObject)?.values() ?? [])].map((r) => ({ ...r }));
  }

  remove(sObject: string, id: string): boolean {
    return this.existingTable(sObject)?.delete(to18(id)) ?? false;
  }

  /** Every record by sObject, for `/__sandbox/state`. */
  allRecords(): Record<string, SfRecord[]> {
    return Object.fromEntries([...this.store.keys()].map((name) => [name, this.records(name)]));
  }

  /** The sObject and record an id belongs to, by its key prefix. */
  find(id: string): { sObject: string; record: SfRecord } | undefined {
    const full = to18(id);
    for (const describe of this.describe.values()) {
      if (!full.startsWith(describe.keyPrefix)) continue;
      const record = this.store.get(describe.name)?.get(full);
      if (record) return { sObject: describe.name, record };
    }
    return undefined;
  }

  describeOf(sObject: string): SObjectDescribe {
    const describe = this.lookupDescribe(sObject);
    if (!describe) throw notFound();
    return describe;
  }

  lookupDescribe(sObject: string): SObjectDescribe | undefined {
    const wanted = sObject.toLowerCase();
    return [...this.describe.values()].find((d) => d.name.toLowerCase() === wanted);
  }

  /** Counts one API request unless the allocation is spent; answers whether it was admitted. */
  meter(): boolean {
    if (this.apiUsage.used >= this.apiUsage.max) return false;
    this.apiUsage.used++;
    return true;
  }

  limitInfo(): string {
    return `api-usage=${this.apiUsage.used}/${this.apiUsage.max}`;
  }

  /** A copy of every record, to roll a transaction back to. */
  snapshot(): Store {
    return new Map(
      [...this.store].map(([name, t]) => [name, new Map([...t].map(([id, r]) => [id, { ...r }]))]),
    );
  }

  restore(snapshot: Store): void {
    this.store = snapshot;
  }

  newLocator(rows: SoqlRow[]): string {
    const id = to18(`01g${this.sequence()}`);
    this.cursors.set(id, rows);
    return id;
  }

  private newId(keyPrefix: string): string {
    return to18(`${keyPrefix}${this.sequence()}`);
  }

  private sequence(): string {
    return `Sb${String(this.nextId++).padStart(10, '0')}`;
  }

  private existingTable(sObject: string): Map<string, SfRecord> | undefined {
    return this.store.get(this.lookupDescribe(sObject)?.name ?? sObject);
  }

  private table(sObject: string): Map<string, SfRecord> {
    let table = this.existingTable(sObject);
    if (!table) this.store.set(this.describeOf(sObject).name, (table = new Map<string, SfRecord>()));
    return table;
  }

  /** Derived fields and stamps, as Salesforce computes them on save; explicit seed values win. */
  private finish(
    describe: SObjectDescribe,
    before: SfRecord | undefined,
    next: SfRecord,
    explicit: Set<string>,
  ) {
    const now = this.clock();
    const set = (name: string, value: FieldValue) => {
      if (!explicit.has(name) && describe.fields.some((f) => f.name === name)) next[name] = value;
    };
    if (PERSON_SOBJECTS.has(describe.name))
      set('Name', [next.FirstName, next.LastName].filter((p) => typeof p === 'string' && p).join(' '));
    if (describe.name === 'Task') {
      // Task.IsClosed is derived from the TaskStatus record of its Status.
      set(
        'IsClosed',
        this.records('TaskStatus').some((t) => t.ApiName === next.Status && t.IsClosed === true),
      );
      if (next.IsClosed && !before?.IsClosed) set('CompletedDateTime', sfDatetime(now));
    }
    if (describe.name === 'CampaignMember') {
      set('HasResponded', RESPONDED_STATUSES.has(String(next.Status)));
      if (next.HasResponded && !next.FirstRespondedDate)
        set('FirstRespondedDate', sfDatetime(now).slice(0, 10));
    }
    if (describe.name === 'Event' && typeof next.StartDateTime === 'string')
      set('ActivityDateTime', next.StartDateTime);
    if (!before) set('CreatedDate', sfDatetime(now));
    set('LastModifiedDate', sfDatetime(now));
    set('SystemModstamp', sfDatetime(now));
  }
}

function emptyFaults(): SalesforceFaults {
  return { requestLimitExceeded: 0, invalidSession: 0, lockRow: 0, wrappedLockRow: 0, serverError: 0 };
}

export function defaults(describe: SObjectDescribe, runningUserId: string): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const f of describe.fields) {
    const picked = f.picklistValues.find((p) => p.defaultValue);
    if (picked) out[f.name] = picked.value;
    else if (f.type === 'boolean') out[f.name] = describe.name === 'User' && f.name === 'IsActive';
    else if (f.name === 'OwnerId') out[f.name] = runningUserId;
  }
  return out;
}
