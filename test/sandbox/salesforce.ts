import { createHmac, randomBytes, verify } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { SoqlError, instant, runSoql, to18, type SoqlOrg, type SoqlRow } from './soql.js';

/**
 * The subset of Salesforce's REST API that leadflow uses (sObjects, SOQL query, Composite, sObject
 * Collections, describe, OAuth token grants), in memory, with Salesforce's answer and error shapes
 * and its validation rules, so the real jsforce client runs against it as it would against an org.
 * Also `sendOutboundMessage`, which POSTs an Outbound Message shaped exactly like Salesforce's.
 */

export type FieldValue = string | number | boolean | null;
export type SfRecord = { Id: string } & Record<string, FieldValue>;

export interface PicklistValue {
  value: string;
  label: string;
  active: boolean;
  defaultValue: boolean;
}

/** One field of a describe answer (the properties leadflow and jsforce read). */
export interface FieldDescribe {
  name: string;
  label: string;
  type: string;
  length: number;
  createable: boolean;
  updateable: boolean;
  nillable: boolean;
  defaultedOnCreate: boolean;
  /** Long text areas cannot be filtered or sorted in SOQL. */
  filterable: boolean;
  custom: boolean;
  calculated: boolean;
  picklistValues: PicklistValue[];
  restrictedPicklist: boolean;
  referenceTo: string[];
  relationshipName: string | null;
}

export interface SObjectDescribe {
  name: string;
  label: string;
  keyPrefix: string;
  createable: boolean;
  updateable: boolean;
  queryable: boolean;
  fields: FieldDescribe[];
}

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

export const LEAD_STATUSES = [
  'Open - Not Contacted',
  'Working - Contacted',
  'Marketing Qualified',
  'Sales Qualified',
  'Recycled',
  'Closed - Converted',
  'Closed - Not Converted',
];
export const TASK_STATUSES = ['Not Started', 'In Progress', 'Completed'];
/** A fresh org's closed Task statuses (TaskStatus.IsClosed); orgs add their own. */
const CLOSED_TASK_STATUSES = new Set(['Completed']);
/** sObjects whose `Name` is compound: FirstName LastName. */
const PERSON_SOBJECTS = new Set(['Lead', 'Contact', 'User']);
/** Campaign member statuses counted as responses (Salesforce's `Responded` plus webinar `Attended`). */
const RESPONDED_STATUSES = new Set(['Responded', 'Attended']);

// ---------------------------------------------------------------------------------------------
// Describe metadata

type FieldSpec = Partial<Omit<FieldDescribe, 'picklistValues'>> & {
  picklist?: string[];
  defaultPicklist?: string;
};

function field(name: string, type: string, spec: FieldSpec = {}): FieldDescribe {
  const isReadOnly = spec.createable === false && spec.updateable === false;
  const { picklist, defaultPicklist, ...rest } = spec;
  return {
    name,
    label: name.replace(/__c$/, '').replace(/_/g, ' '),
    type,
    length: type === 'textarea' ? 255 : STRINGY.has(type) ? 255 : 0,
    createable: !isReadOnly,
    updateable: !isReadOnly,
    nillable: type !== 'boolean',
    defaultedOnCreate: type === 'boolean' || defaultPicklist !== undefined,
    filterable: true,
    custom: name.endsWith('__c'),
    calculated: false,
    restrictedPicklist: false,
    referenceTo: [],
    relationshipName: null,
    ...rest,
    picklistValues: (picklist ?? []).map((value) => ({
      value,
      label: value,
      active: true,
      defaultValue: value === defaultPicklist,
    })),
  };
}

const STRINGY = new Set(['string', 'email', 'phone', 'url', 'picklist', 'combobox', 'textarea']);
const readOnly = { createable: false, updateable: false } as const;
const longText = (length: number): FieldSpec => ({ length, filterable: false });

function lookup(name: string, relationshipName: string, referenceTo: string[], spec: FieldSpec = {}) {
  return field(name, 'reference', { length: 18, relationshipName, referenceTo, ...spec });
}

const systemFields = () => [
  field('Id', 'id', { ...readOnly, length: 18, nillable: false, defaultedOnCreate: true }),
  field('CreatedDate', 'datetime', { ...readOnly, nillable: false, defaultedOnCreate: true }),
  field('LastModifiedDate', 'datetime', { ...readOnly, nillable: false, defaultedOnCreate: true }),
  field('SystemModstamp', 'datetime', { ...readOnly, nillable: false, defaultedOnCreate: true }),
];

/** Owner lookups default to the running user on create. */
const owner = (referenceTo: string[]) =>
  lookup('OwnerId', 'Owner', referenceTo, { nillable: false, defaultedOnCreate: true });

const person = () => [
  field('FirstName', 'string', { length: 40 }),
  field('LastName', 'string', { length: 80, nillable: false }),
  field('Name', 'string', { ...readOnly, length: 121 }),
  field('Email', 'email', { length: 80 }),
  field('Title', 'string', { length: 128 }),
  field('Phone', 'phone', { length: 40 }),
  field('LeadSource', 'picklist', {
    picklist: ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'],
  }),
  field('HasOptedOutOfEmail', 'boolean'),
  field('Description', 'textarea', longText(32_000)),
];

const leadflowFields = (lifecyclePicklist: boolean) => [
  field('Leadflow_Score__c', 'double'),
  field('Leadflow_Fit_Score__c', 'double'),
  field('Leadflow_Engagement_Score__c', 'double'),
  field('Leadflow_Score_Reasons__c', 'textarea', longText(32_768)),
  field('Leadflow_Disposition_Reason__c', 'picklist', {
    picklist: [
      'Bad Timing',
      'No Budget',
      'Not a Fit',
      'Unresponsive',
      'Competitor',
      'Do Not Contact',
      'Bad Data',
    ],
  }),
  field('Leadflow_Bad_Data__c', 'boolean'),
  ...(lifecyclePicklist
    ? [
        field('Leadflow_Lifecycle_Stage__c', 'picklist', {
          picklist: LEAD_STATUSES,
          restrictedPicklist: true,
        }),
      ]
    : []),
];

function sObject(name: string, keyPrefix: string, fields: FieldDescribe[]): SObjectDescribe {
  return {
    name,
    label: name,
    keyPrefix,
    createable: true,
    updateable: true,
    queryable: true,
    fields: [...systemFields(), ...fields],
  };
}

/** Describe metadata of a fresh org with leadflow's custom fields installed. */
export function defaultDescribes(): Map<string, SObjectDescribe> {
  const all = [
    sObject('Lead', '00Q', [
      ...person(),
      field('Company', 'string', { nillable: false }),
      field('Industry', 'picklist', {
        picklist: ['Technology', 'Finance', 'Healthcare', 'Manufacturing', 'Retail', 'Education', 'Other'],
      }),
      field('NumberOfEmployees', 'int'),
      field('Country', 'string', { length: 80 }),
      field('City', 'string', { length: 40 }),
      field('State', 'string', { length: 80 }),
      owner(['Group', 'User']),
      field('Status', 'picklist', {
        picklist: LEAD_STATUSES,
        defaultPicklist: 'Open - Not Contacted',
        restrictedPicklist: true,
        nillable: false,
      }),
      field('IsConverted', 'boolean', { updateable: false }),
      lookup('ConvertedContactId', 'ConvertedContact', ['Contact'], readOnly),
      lookup('ConvertedAccountId', 'ConvertedAccount', ['Account'], readOnly),
      field('ConvertedDate', 'date', readOnly),
      ...leadflowFields(false),
    ]),
    sObject('Contact', '003', [
      ...person(),
      field('MailingCountry', 'string', { length: 80 }),
      owner(['User']),
      lookup('AccountId', 'Account', ['Account']),
      ...leadflowFields(true),
    ]),
    sObject('Account', '001', [field('Name', 'string', { nillable: false }), owner(['User'])]),
    sObject('Task', '00T', [
      lookup('WhoId', 'Who', ['Contact', 'Lead']),
      lookup('WhatId', 'What', ['Account', 'Campaign']),
      owner(['Group', 'User']),
      field('Subject', 'combobox', { picklist: ['Call', 'Send Letter', 'Send Quote', 'Other'] }),
      field('Description', 'textarea', longText(32_000)),
      field('ActivityDate', 'date'),
      field('Status', 'picklist', {
        picklist: TASK_STATUSES,
        defaultPicklist: 'Not Started',
        restrictedPicklist: true,
        nillable: false,
      }),
      field('Priority', 'picklist', {
        picklist: ['High', 'Normal', 'Low'],
        defaultPicklist: 'Normal',
        restrictedPicklist: true,
        nillable: false,
      }),
      field('TaskSubtype', 'picklist', {
        picklist: ['Task', 'Call', 'Email'],
        defaultPicklist: 'Task',
        restrictedPicklist: true,
        updateable: false,
      }),
      field('Type', 'picklist', { picklist: ['Call', 'Email', 'Meeting', 'Other'] }),
      field('IsClosed', 'boolean', readOnly),
      field('CompletedDateTime', 'datetime', readOnly),
    ]),
    sObject('Event', '00U', [
      lookup('WhoId', 'Who', ['Contact', 'Lead']),
      lookup('WhatId', 'What', ['Account', 'Campaign']),
      owner(['Group', 'User']),
      field('Subject', 'combobox', { picklist: ['Call', 'Email', 'Meeting', 'Other'] }),
      field('Description', 'textarea', longText(32_000)),
      field('StartDateTime', 'datetime'),
      field('EndDateTime', 'datetime'),
      field('ActivityDateTime', 'datetime'),
      field('Type', 'picklist', { picklist: ['Call', 'Email', 'Meeting', 'Other'] }),
    ]),
    sObject('Campaign', '701', [
      field('Name', 'string', { length: 80, nillable: false }),
      field('Type', 'picklist', { picklist: ['Webinar', 'Email', 'Conference', 'Advertisement', 'Other'] }),
      field('Status', 'picklist', { picklist: ['Planned', 'In Progress', 'Completed', 'Aborted'] }),
      field('IsActive', 'boolean'),
      owner(['User']),
    ]),
    sObject('CampaignMember', '00v', [
      lookup('CampaignId', 'Campaign', ['Campaign'], { nillable: false, updateable: false }),
      lookup('LeadId', 'Lead', ['Lead'], { updateable: false }),
      lookup('ContactId', 'Contact', ['Contact'], { updateable: false }),
      field('Status', 'picklist', {
        picklist: ['Sent', 'Responded', 'Registered', 'Attended'],
        defaultPicklist: 'Sent',
      }),
      field('HasResponded', 'boolean', readOnly),
      field('FirstRespondedDate', 'date', readOnly),
    ]),
    // One record per Task.Status value: whether it closes the task (Task.IsClosed follows it).
    sObject('TaskStatus', '01J', [
      field('ApiName', 'string', { ...readOnly, length: 255 }),
      field('MasterLabel', 'string', { ...readOnly, length: 255 }),
      field('IsClosed', 'boolean', readOnly),
      field('IsDefault', 'boolean', readOnly),
      field('SortOrder', 'int', readOnly),
    ]),
    sObject('User', '005', [
      field('FirstName', 'string', { length: 40 }),
      field('LastName', 'string', { length: 80, nillable: false }),
      field('Name', 'string', { ...readOnly, length: 121 }),
      field('Email', 'email', { length: 128, nillable: false }),
      field('Username', 'string', { length: 80 }),
      field('IsActive', 'boolean'),
      field('UserType', 'picklist', {
        ...readOnly,
        picklist: ['Standard', 'PowerPartner', 'CsnOnly', 'Guest'],
      }),
    ]),
  ];
  return new Map(all.map((d) => [d.name, d]));
}

const SEED_USERS: Record<string, FieldValue>[] = [
  { Id: ADMIN_USER_ID, FirstName: 'Ada', LastName: 'Admin', Email: 'ada@sales.example', IsActive: true },
  { Id: REP_USER_ID, FirstName: 'Ben', LastName: 'Okafor', Email: 'ben@sales.example', IsActive: true },
  { Id: MANAGER_USER_ID, FirstName: 'Maya', LastName: 'Chen', Email: 'maya@sales.example', IsActive: true },
  { Id: INACTIVE_USER_ID, FirstName: 'Ivo', LastName: 'Gone', Email: 'ivo@sales.example', IsActive: false },
];

// ---------------------------------------------------------------------------------------------
// Errors and formats

/** A Salesforce error, answered as `[{message, errorCode, fields}]`. */
export class SfError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
  }
}

const errorBody = (e: SfError) => [
  { message: e.message, errorCode: e.errorCode, ...(e.fields ? { fields: e.fields } : {}) },
];
/** Per-record errors in collection results use `statusCode`, not `errorCode`. */
const saveError = (e: SfError) => ({ statusCode: e.errorCode, message: e.message, fields: e.fields ?? [] });

const notFound = () => new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');

/** Salesforce's datetime format: `2026-11-24T09:48:00.000+0000`. */
export function sfDatetime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

const RECORD_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;

// ---------------------------------------------------------------------------------------------
// State

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

function defaults(describe: SObjectDescribe, runningUserId: string): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const f of describe.fields) {
    const picked = f.picklistValues.find((p) => p.defaultValue);
    if (picked) out[f.name] = picked.value;
    else if (f.type === 'boolean') out[f.name] = describe.name === 'User' && f.name === 'IsActive';
    else if (f.name === 'OwnerId') out[f.name] = runningUserId;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validated writes (what the REST API does on create/update)

interface WriteContext {
  /** `Sforce-Auto-Assign` is not FALSE: Lead assignment rules run. */
  autoAssign: boolean;
}

const SOAP_TYPES: Record<string, string> = {
  int: 'int',
  double: 'double',
  boolean: 'boolean',
  date: 'date',
  datetime: 'dateTime',
};

function parserError(f: FieldDescribe, value: unknown): SfError {
  const token = value === null ? 'VALUE_NULL' : typeof value === 'object' ? 'START_OBJECT' : 'VALUE_STRING';
  return new SfError(
    400,
    'JSON_PARSER_ERROR',
    `Cannot deserialize instance of ${SOAP_TYPES[f.type] ?? 'string'} from ${token} value ${String(value)} or request may be missing a required field at [line:1, column:1]`,
  );
}

/** A JSON value converted to the field's type, as Salesforce's deserializer does (or rejects). */
function coerce(f: FieldDescribe, raw: unknown): FieldValue {
  if (raw !== null && !['string', 'number', 'boolean'].includes(typeof raw)) throw parserError(f, raw);
  const value = raw as FieldValue;
  switch (f.type) {
    case 'boolean':
      if (value === null || typeof value === 'boolean') return value === true;
      if (value === 'true' || value === 'false') return value === 'true';
      throw parserError(f, value);
    case 'int':
    case 'double': {
      if (value === null || value === '') return null;
      const n = typeof value === 'number' ? value : Number(value);
      if (typeof value === 'boolean' || !Number.isFinite(n) || (f.type === 'int' && !Number.isInteger(n)))
        throw parserError(f, value);
      return n;
    }
    case 'date':
      if (value === null || value === '') return null;
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value)))
        throw parserError(f, value);
      return value;
    case 'datetime': {
      if (value === null || value === '') return null;
      const ms = typeof value === 'string' ? instant(value) : NaN;
      if (Number.isNaN(ms)) throw parserError(f, value);
      return sfDatetime(ms);
    }
    default:
      return value === null || value === '' ? null : String(value);
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function checkValue(state: SalesforceState, describe: SObjectDescribe, f: FieldDescribe, value: FieldValue) {
  if (value === null) return;
  if (typeof value === 'string' && f.length > 0 && value.length > f.length)
    throw new SfError(
      400,
      'STRING_TOO_LONG',
      `${f.label}: data value too large: ${value.slice(0, 20)}... (max length=${f.length})`,
      [f.name],
    );
  if (f.type === 'email' && !EMAIL.test(String(value)))
    throw new SfError(400, 'INVALID_EMAIL_ADDRESS', `${f.label}: invalid email address: ${String(value)}`, [
      f.name,
    ]);
  if (
    f.type === 'picklist' &&
    f.restrictedPicklist &&
    !f.picklistValues.some((p) => p.active && p.value === value)
  )
    throw new SfError(
      400,
      'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
      `${f.label}: bad value for restricted picklist field: ${String(value)}`,
      [f.name],
    );
  if (f.type === 'reference') checkReference(state, describe, f, String(value));
}

function checkReference(state: SalesforceState, describe: SObjectDescribe, f: FieldDescribe, id: string) {
  const found = RECORD_ID.test(id) ? state.find(id) : undefined;
  if (found && !f.referenceTo.includes(found.sObject))
    throw new SfError(400, 'FIELD_INTEGRITY_EXCEPTION', `${f.label}: id value of incorrect type: ${id}`, [
      f.name,
    ]);
  // Queues (Group) are not simulated: an owner must be a User.
  if (!found) throw new SfError(400, 'INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id`, [f.name]);
  if (f.name === 'OwnerId' && found.record.IsActive === false)
    throw new SfError(
      400,
      'INACTIVE_OWNER_OR_USER',
      `operation performed with inactive user [${id}] as owner of ${describe.name.toLowerCase()}`,
      [],
    );
}

function takeLockFault(state: SalesforceState, id: string | undefined): void {
  const target = id ?? 'new record';
  if (state.faults.lockRow > 0) {
    state.faults.lockRow--;
    throw new SfError(
      400,
      'UNABLE_TO_LOCK_ROW',
      `unable to obtain exclusive access to this record or 1 records: ${target}`,
      [],
    );
  }
  if (state.faults.wrappedLockRow > 0) {
    state.faults.wrappedLockRow--;
    throw new SfError(
      400,
      'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY',
      `LeadTrigger: execution of AfterUpdate caused by: System.DmlException: Update failed. First exception on row 0 with id ${target}; first error: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record: []`,
      [],
    );
  }
}

/** Creates (id undefined) or updates a record through the API's validation; returns its id. */
export function saveRecord(
  state: SalesforceState,
  sObjectName: string,
  id: string | undefined,
  body: Record<string, unknown>,
  ctx: WriteContext,
): string {
  const describe = state.describeOf(sObjectName);
  const current = id === undefined ? undefined : existing(state, describe, id);
  // A converted Lead is read-only through the API.
  if (describe.name === 'Lead' && current?.IsConverted === true)
    throw new SfError(400, 'CANNOT_UPDATE_CONVERTED_LEAD', 'cannot reference converted lead', []);
  takeLockFault(state, current?.Id);
  const creating = current === undefined;

  const entries = Object.entries(body).map(([name, value]) => {
    const f = describe.fields.find((d) => d.name.toLowerCase() === name.toLowerCase());
    if (!f)
      throw new SfError(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ${describe.name}`);
    return [f, value] as const;
  });
  const locked = entries.filter(([f]) => (creating ? !f.createable : !f.updateable)).map(([f]) => f.name);
  if (locked.length)
    throw new SfError(
      400,
      'INVALID_FIELD_FOR_INSERT_UPDATE',
      `Unable to create/update fields: ${locked.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      locked,
    );
  const values: Record<string, FieldValue> = {};
  for (const [f, raw] of entries) values[f.name] = coerce(f, raw);
  for (const [f] of entries) checkValue(state, describe, f, values[f.name]!);

  const after = { ...(current ?? defaults(describe, state.runningUserId)), ...values };
  const missing = describe.fields
    .filter((f) => f.createable && !f.nillable && f.type !== 'boolean')
    .filter((f) => (creating || f.name in values) && (after[f.name] === null || after[f.name] === undefined))
    .map((f) => f.name);
  if (missing.length)
    throw new SfError(
      400,
      'REQUIRED_FIELD_MISSING',
      `Required fields are missing: [${missing.join(', ')}]`,
      missing,
    );

  if (describe.name === 'Lead' && ctx.autoAssign && state.assignmentRuleOwner)
    values.OwnerId = state.assignmentRuleOwner;
  // Read-only fields were refused above, so derived fields and stamps are computed, never taken.
  const saved = creating ? state.insert(describe.name, values) : current.Id;
  if (!creating) state.update(describe.name, saved, values);
  state.saves.push({ sObject: describe.name, id: saved, autoAssign: ctx.autoAssign });
  if (describe.name === 'Task') taskTrigger(state, after.WhoId, ctx);
  return saved;
}

/** `Sforce-Auto-Assign` also governs Lead updates a Task trigger makes (Salesforce docs on the header). */
function taskTrigger(state: SalesforceState, whoId: FieldValue | undefined, ctx: WriteContext): void {
  if (!state.taskTriggerUpdatesLead || typeof whoId !== 'string') return;
  const lead = state.find(whoId);
  if (lead?.sObject !== 'Lead') return;
  state.update('Lead', lead.record.Id, {
    ...(ctx.autoAssign && state.assignmentRuleOwner ? { OwnerId: state.assignmentRuleOwner } : {}),
  });
}

function existing(state: SalesforceState, describe: SObjectDescribe, id: string): SfRecord {
  if (!RECORD_ID.test(id) || !to18(id).startsWith(describe.keyPrefix))
    throw new SfError(400, 'MALFORMED_ID', `${describe.label} ID: id value of incorrect type: ${id}`, ['Id']);
  const record = state.get(describe.name, id);
  if (!record) throw notFound();
  return record;
}

function deleteRecord(state: SalesforceState, sObjectName: string, id: string): void {
  const describe = state.describeOf(sObjectName);
  existing(state, describe, id);
  state.remove(describe.name, id);
}

/** A record as GET /sobjects answers it: attributes, then every (or the asked) field. */
function recordView(describe: SObjectDescribe, record: SfRecord, version: string, only?: string[]) {
  const fields = only
    ? only.map((name) => {
        const f = describe.fields.find((d) => d.name.toLowerCase() === name.toLowerCase());
        if (!f)
          throw new SfError(
            400,
            'INVALID_FIELD',
            `No such column '${name}' on sobject of type ${describe.name}`,
          );
        return f;
      })
    : describe.fields;
  return {
    attributes: {
      type: describe.name,
      url: `/services/data/v${version}/sobjects/${describe.name}/${record.Id}`,
    },
    ...Object.fromEntries(fields.map((f) => [f.name, record[f.name] ?? null])),
    Id: record.Id,
  };
}

// ---------------------------------------------------------------------------------------------
// Request dispatch, shared by top-level requests and composite subrequests

interface ApiRequest {
  method: string;
  version: string;
  /** Path after `/services/data/vNN.0/`, without query string. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  header(name: string): string | undefined;
  /** Set inside a composite: nested composites are refused, and its allOrNone governs collections. */
  composite?: { allOrNone: boolean };
}

interface ApiAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const BATCH_SIZE = { min: 200, max: 2_000, default: 2_000 };

function batchSize(req: ApiRequest): number {
  const asked = /batchSize=(\d+)/i.exec(req.header('sforce-query-options') ?? '')?.[1];
  if (!asked) return BATCH_SIZE.default;
  return Math.min(BATCH_SIZE.max, Math.max(BATCH_SIZE.min, Number(asked)));
}

function soqlOrg(state: SalesforceState): SoqlOrg {
  return {
    describe: (name) => state.lookupDescribe(name),
    records: (name) => state.records(name),
    byId: (id) => state.find(id),
  };
}

function queryPage(state: SalesforceState, req: ApiRequest, locator: string, offset: number): ApiAnswer {
  const rows = state.cursors.get(locator);
  if (!rows) throw new SfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
  const size = batchSize(req);
  const end = offset + size;
  const more = end < rows.length;
  if (!more) state.cursors.delete(locator);
  return {
    status: 200,
    body: {
      totalSize: rows.length,
      done: !more,
      ...(more ? { nextRecordsUrl: `/services/data/v${req.version}/query/${locator}-${end}` } : {}),
      records: rows.slice(offset, end),
    },
  };
}

function runQuery(state: SalesforceState, req: ApiRequest): ApiAnswer {
  const q = req.query.get('q');
  if (!q) throw new SfError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
  try {
    const { rows } = runSoql(q, soqlOrg(state), req.version);
    return queryPage(state, req, state.newLocator(rows), 0);
  } catch (err) {
    if (err instanceof SoqlError) throw new SfError(400, err.errorCode, err.message);
    throw err;
  }
}

const autoAssign = (req: ApiRequest) =>
  (req.header('sforce-auto-assign') ?? 'TRUE').toUpperCase() !== 'FALSE';

const Fields = z.record(z.string(), z.unknown());

function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new SfError(400, 'JSON_PARSER_ERROR', z.prettifyError(parsed.error));
  return parsed.data;
}

function sobjects(state: SalesforceState, req: ApiRequest, parts: string[]): ApiAnswer {
  const [type, idOrDescribe, extra] = parts;
  if (!type || extra !== undefined) throw notFound();
  const describe = state.describeOf(type);
  if (idOrDescribe === 'describe' && req.method === 'GET') return { status: 200, body: describe };
  if (idOrDescribe === undefined) {
    if (req.method !== 'POST') throw methodNotAllowed(req);
    const id = saveRecord(state, describe.name, undefined, parseBody(Fields, req.body), {
      autoAssign: autoAssign(req),
    });
    return {
      status: 201,
      body: { id, success: true, errors: [] },
      headers: { Location: `/services/data/v${req.version}/sobjects/${describe.name}/${id}` },
    };
  }
  switch (req.method) {
    case 'GET': {
      const only = req.query
        .get('fields')
        ?.split(',')
        .map((f) => f.trim())
        .filter(Boolean);
      return {
        status: 200,
        body: recordView(describe, existing(state, describe, idOrDescribe), req.version, only),
      };
    }
    case 'PATCH':
      saveRecord(state, describe.name, idOrDescribe, parseBody(Fields, req.body), {
        autoAssign: autoAssign(req),
      });
      return { status: 204 };
    case 'DELETE':
      deleteRecord(state, describe.name, idOrDescribe);
      return { status: 204 };
    default:
      throw methodNotAllowed(req);
  }
}

function methodNotAllowed(req: ApiRequest): SfError {
  return new SfError(
    405,
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${req.method}' not allowed. Allowed are GET,PATCH,DELETE`,
  );
}

// sObject Collections -----------------------------------------------------------------------

const COLLECTION_MAX = 200;
const CollectionBody = z.object({
  allOrNone: z.boolean().default(false),
  records: z.array(z.looseObject({ attributes: z.object({ type: z.string().min(1) }) })),
});
const RetrieveBody = z.object({ ids: z.array(z.string()).min(1), fields: z.array(z.string()).min(1) });

type SaveResult = { id?: string; success: boolean; errors: ReturnType<typeof saveError>[] };

/** Runs each record's operation in input order; with allOrNone, one failure rolls all back. */
function collection(state: SalesforceState, allOrNone: boolean, items: (() => string)[]): SaveResult[] {
  const snapshot = allOrNone ? state.snapshot() : undefined;
  const results: SaveResult[] = items.map((run) => {
    try {
      return { id: run(), success: true, errors: [] };
    } catch (err) {
      if (!(err instanceof SfError)) throw err;
      return { success: false, errors: [saveError(err)] };
    }
  });
  if (!snapshot || results.every((r) => r.success)) return results;
  state.restore(snapshot);
  return results.map((r) =>
    r.success
      ? {
          success: false,
          errors: [
            {
              statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
              message:
                'Record rolled back because not all records were valid and the request was using AllOrNone header',
              fields: [],
            },
          ],
        }
      : r,
  );
}

function collections(state: SalesforceState, req: ApiRequest, parts: string[]): ApiAnswer {
  const [type] = parts;
  if (type !== undefined) {
    // Retrieve by ids: POST /composite/sobjects/{type} {ids, fields}.
    if (req.method !== 'POST' || parts.length > 1) throw notFound();
    const describe = state.describeOf(type);
    const { ids, fields } = parseBody(RetrieveBody, req.body);
    if (ids.length > 2_000)
      throw new SfError(
        400,
        'EXCEEDED_ID_LIMIT',
        'record limit reached. cannot submit more than 2000 records into this call',
      );
    const records = ids.map((id) => {
      const record = RECORD_ID.test(id) ? state.get(describe.name, id) : undefined;
      return record ? recordView(describe, record, req.version, fields) : null;
    });
    return { status: 200, body: records };
  }
  const inherited = req.composite?.allOrNone ?? false;
  if (req.method === 'DELETE') {
    const ids = (req.query.get('ids') ?? '').split(',').filter(Boolean);
    if (ids.length > COLLECTION_MAX) throw tooMany();
    const allOrNone = inherited || req.query.get('allOrNone') === 'true';
    const results = collection(
      state,
      allOrNone,
      ids.map((id) => () => {
        const found = state.find(id);
        if (!found) throw new SfError(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
        deleteRecord(state, found.sObject, id);
        return found.record.Id;
      }),
    );
    return { status: 200, body: results };
  }
  if (req.method !== 'POST' && req.method !== 'PATCH') throw methodNotAllowed(req);
  const body = parseBody(CollectionBody, req.body);
  if (body.records.length > COLLECTION_MAX) throw tooMany();
  const creating = req.method === 'POST';
  const results = collection(
    state,
    inherited || body.allOrNone,
    body.records.map((record) => () => {
      const { attributes, ...fields } = record;
      const idKey = Object.keys(fields).find((k) => k.toLowerCase() === 'id');
      const id = idKey === undefined ? undefined : fields[idKey];
      if (idKey !== undefined) delete fields[idKey];
      if (creating && id !== undefined)
        throw new SfError(400, 'INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
      if (!creating && typeof id !== 'string')
        throw new SfError(400, 'MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']);
      return saveRecord(state, attributes.type, creating ? undefined : (id as string), fields, {
        autoAssign: autoAssign(req),
      });
    }),
  );
  return { status: 200, body: results };
}

function tooMany(): SfError {
  return new SfError(
    400,
    'EXCEEDED_ID_LIMIT',
    `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`,
  );
}

// Composite ---------------------------------------------------------------------------------

const COMPOSITE_MAX = 25;
const CompositeBody = z.object({
  allOrNone: z.boolean().default(false),
  collateSubrequests: z.boolean().optional(),
  compositeRequest: z
    .array(
      z.object({
        method: z.enum(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']),
        url: z.string().min(1),
        referenceId: z.string().regex(/^[A-Za-z0-9_]+$/, 'referenceId may hold only letters, digits and _'),
        body: z.unknown().optional(),
        httpHeaders: z.record(z.string(), z.string()).optional(),
      }),
    )
    .min(1),
});

interface SubResult {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}

const halted = (referenceId: string, message: string): SubResult => ({
  body: [{ errorCode: 'PROCESSING_HALTED', message }],
  httpHeaders: {},
  httpStatusCode: 400,
  referenceId,
});
const ROLLED_BACK = 'The transaction was rolled back since another operation in the same transaction failed.';

const REFERENCE = /@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}/g;

/** Replaces `@{refId.path}` with values from earlier subresponses; a lone reference keeps its type. */
function resolveReferences(value: unknown, done: Map<string, SubResult>): unknown {
  const lookupRef = (ref: string, path: string): unknown => {
    const earlier = done.get(ref);
    let current: unknown = earlier && earlier.httpStatusCode < 400 ? earlier.body : undefined;
    for (const [, key, index] of path.matchAll(/\.([A-Za-z0-9_]+)|\[(\d+)\]/g))
      current =
        current !== null && typeof current === 'object'
          ? (current as Record<string, unknown>)[key ?? index!]
          : undefined;
    if (current === undefined || current === null)
      throw new SfError(
        400,
        'PROCESSING_HALTED',
        `Invalid reference specified. No value for ${ref}${path} found in ${ref}. Provided referenceId ids: [${[...done.keys()].join(', ')}]`,
      );
    return current;
  };
  if (typeof value === 'string') {
    const whole = new RegExp(`^${REFERENCE.source}$`).exec(value);
    if (whole) return lookupRef(whole[1]!, whole[2]!);
    return value.replace(REFERENCE, (_m, ref: string, path: string) => String(lookupRef(ref, path)));
  }
  if (Array.isArray(value)) return value.map((v) => resolveReferences(v, done));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveReferences(v, done)]));
  return value;
}

const hasFailedRecord = (body: unknown) =>
  Array.isArray(body) &&
  (body as unknown[]).some((r) => (r as { success?: unknown } | null)?.success === false);

function composite(state: SalesforceState, req: ApiRequest): ApiAnswer {
  if (req.method !== 'POST') throw methodNotAllowed(req);
  const body = parseBody(CompositeBody, req.body);
  if (body.compositeRequest.length > COMPOSITE_MAX)
    throw new SfError(400, 'LIMIT_EXCEEDED', `Exceeded max limit of subrequests (${COMPOSITE_MAX})`);
  const snapshot = body.allOrNone ? state.snapshot() : undefined;
  const done = new Map<string, SubResult>();
  const results: SubResult[] = [];
  let failed: number | undefined;
  for (const [i, sub] of body.compositeRequest.entries()) {
    if (failed !== undefined && body.allOrNone) {
      results.push(halted(sub.referenceId, ROLLED_BACK));
      continue;
    }
    const headers = new Map(Object.entries(sub.httpHeaders ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const answer = answerOf(() => {
      const url = new URL(String(resolveReferences(sub.url, done)), 'http://composite');
      const route = /^\/services\/data\/v(\d+\.\d)\/(.*)$/.exec(url.pathname);
      if (!route) throw new SfError(400, 'INVALID_INPUT', `The URL ${sub.url} is not a REST API resource`);
      return dispatch(state, {
        method: sub.method,
        version: route[1]!,
        path: route[2]!,
        query: url.searchParams,
        body: resolveReferences(sub.body, done),
        header: (name) => headers.get(name.toLowerCase()),
        composite: { allOrNone: body.allOrNone },
      });
    });
    const result: SubResult = {
      body: answer.body ?? null,
      httpHeaders: answer.headers ?? {},
      httpStatusCode: answer.status,
      referenceId: sub.referenceId,
    };
    results.push(result);
    done.set(sub.referenceId, result);
    // An all-or-none composite makes its collections all-or-none, so any failed record fails it.
    if (answer.status >= 400 || (body.allOrNone && hasFailedRecord(answer.body))) failed ??= i;
  }
  if (snapshot && failed !== undefined) {
    state.restore(snapshot);
    return {
      status: 200,
      body: {
        compositeResponse: results.map((r, i) => (i === failed ? r : halted(r.referenceId, ROLLED_BACK))),
      },
    };
  }
  return { status: 200, body: { compositeResponse: results } };
}

// Dispatch ----------------------------------------------------------------------------------

function answerOf(run: () => ApiAnswer): ApiAnswer {
  try {
    return run();
  } catch (err) {
    if (err instanceof SfError) return { status: err.status, body: errorBody(err) };
    throw err;
  }
}

function dispatch(state: SalesforceState, req: ApiRequest): ApiAnswer {
  const [resource, ...rest] = req.path.split('/').filter(Boolean);
  switch (resource) {
    case 'sobjects':
      return sobjects(state, req, rest);
    case 'query': {
      if (req.method !== 'GET') throw methodNotAllowed(req);
      if (rest.length === 0) return runQuery(state, req);
      const locator = /^(01g[A-Za-z0-9]+)-(\d+)$/.exec(rest[0]!);
      if (!locator || rest.length > 1)
        throw new SfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
      return queryPage(state, req, locator[1]!, Number(locator[2]));
    }
    case 'composite':
      if (rest[0] === 'sobjects') return collections(state, req, rest.slice(1));
      if (rest.length) throw notFound();
      if (req.composite)
        throw new SfError(
          400,
          'INVALID_INPUT',
          'A composite request cannot be a subrequest of a composite request',
        );
      return composite(state, req);
    case 'limits':
      return {
        status: 200,
        body: {
          DailyApiRequests: { Max: state.apiUsage.max, Remaining: state.apiUsage.max - state.apiUsage.used },
        },
      };
    default:
      throw notFound();
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export const isSalesforcePath = (path: string) => path.startsWith('/services/');
const isDataPath = (path: string) => path.startsWith('/services/data/');

function sendError(res: Response, e: SfError): void {
  res.status(e.status).json(errorBody(e));
}

/**
 * The gate of the shared middleware for Salesforce paths: bearer token, the daily allocation and
 * the per-request faults that reject a request before it counts. Answers false when it replied.
 */
export function admitSalesforce(state: SalesforceState, req: Request, res: Response): boolean {
  if (!isDataPath(req.path)) return true;
  res.set('Sforce-Limit-Info', state.limitInfo());
  const token = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (!state.acceptsToken(token) || takeFault(state, 'invalidSession')) {
    sendError(res, new SfError(401, 'INVALID_SESSION_ID', 'Session expired or invalid'));
    return false;
  }
  if (takeFault(state, 'requestLimitExceeded') || !state.meter()) {
    sendError(res, new SfError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'));
    return false;
  }
  res.set('Sforce-Limit-Info', state.limitInfo());
  return true;
}

function takeFault(state: SalesforceState, name: keyof SalesforceFaults): boolean {
  if (state.faults[name] <= 0) return false;
  state.faults[name]--;
  return true;
}

/** The body of an injected 5xx on a Salesforce path: REST error list, or OAuth error. */
export function salesforceServerError(path: string, status: number): unknown {
  if (!isDataPath(path)) return { error: 'unknown_error', error_description: 'retry your request' };
  return status === 500
    ? [
        {
          message:
            'An unexpected error occurred. Please include this ErrorId if you contact support: 1986427391-12345 (-1023453461)',
          errorCode: 'UNKNOWN_EXCEPTION',
        },
      ]
    : [{ message: 'Service temporarily unavailable (injected)', errorCode: 'SERVER_UNAVAILABLE' }];
}

const TokenRequest = z.discriminatedUnion('grant_type', [
  z.object({
    grant_type: z.literal('refresh_token'),
    refresh_token: z.string().min(1),
    client_id: z.string().min(1),
    client_secret: z.string().optional(),
  }),
  z.object({
    grant_type: z.literal('urn:ietf:params:oauth:grant-type:jwt-bearer'),
    assertion: z.string().min(1),
  }),
]);
const JwtHeader = z.object({ alg: z.literal('RS256') });
const JwtClaims = z.object({ iss: z.string(), sub: z.string(), aud: z.string(), exp: z.number() });
const LOGIN_URLS = ['https://login.salesforce.com', 'https://test.salesforce.com'];

class OAuthError extends Error {
  constructor(
    readonly error: string,
    description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

/** The subject of a valid JWT bearer assertion (RS256, iss, sub, aud, exp), as Salesforce checks it. */
function verifyAssertion(app: SalesforceOAuthApp, assertion: string, now: number): void {
  const [header, claims, signature] = assertion.split('.');
  if (!header || !claims || !signature || !app.jwtPublicKeyPem)
    throw new OAuthError('invalid_grant', 'invalid assertion');
  const decode = (part: string): unknown => {
    try {
      return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    } catch {
      throw new OAuthError('invalid_grant', 'invalid assertion');
    }
  };
  if (!JwtHeader.safeParse(decode(header)).success)
    throw new OAuthError('invalid_grant', 'invalid assertion');
  const signed = verify(
    'RSA-SHA256',
    Buffer.from(`${header}.${claims}`),
    app.jwtPublicKeyPem,
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) throw new OAuthError('invalid_grant', 'invalid assertion');
  const parsed = JwtClaims.safeParse(decode(claims));
  if (!parsed.success) throw new OAuthError('invalid_grant', 'invalid assertion');
  const c = parsed.data;
  if (c.iss !== app.clientId) throw new OAuthError('invalid_client_id', 'client identifier invalid');
  // The JWT bearer flow's aud must be login/test.salesforce.com or an Experience Cloud site, never
  // My Domain or the host the assertion is posted to.
  if (![...LOGIN_URLS, ...(app.experienceCloudUrls ?? [])].includes(c.aud.replace(/\/$/, '')))
    throw new OAuthError('invalid_grant', 'audience is invalid');
  if (c.exp * 1000 <= now) throw new OAuthError('invalid_grant', 'expired authorization code');
  if (c.sub !== app.username) throw new OAuthError('invalid_grant', "user hasn't approved this consumer");
}

function grantToken(state: SalesforceState, body: unknown, instanceUrl: string) {
  const app = state.oauth;
  const parsed = TokenRequest.safeParse(body);
  if (!parsed.success) throw new OAuthError('unsupported_grant_type', 'grant type not supported');
  if (!app) throw new OAuthError('invalid_client_id', 'client identifier invalid');
  const grant = parsed.data;
  if (grant.grant_type === 'refresh_token') {
    if (grant.client_id !== app.clientId)
      throw new OAuthError('invalid_client_id', 'client identifier invalid');
    if (grant.client_secret !== undefined && grant.client_secret !== app.clientSecret)
      throw new OAuthError('invalid_client', 'invalid client credentials');
    if (!app.refreshToken || grant.refresh_token !== app.refreshToken)
      throw new OAuthError('invalid_grant', 'expired access/refresh token');
  } else verifyAssertion(app, grant.assertion, Date.now());

  state.refreshes++;
  const issuedAt = String(Date.now());
  const id = `${instanceUrl}/id/${state.orgId}/${state.runningUserId}`;
  return {
    access_token: `${state.orgId.slice(0, 15)}!AQ${randomBytes(24).toString('base64url')}`,
    // Salesforce signs id + issued_at with the consumer secret, so the client can verify them.
    signature: createHmac('sha256', app.clientSecret)
      .update(id + issuedAt)
      .digest('base64'),
    scope: grant.grant_type === 'refresh_token' ? 'refresh_token api' : 'api',
    instance_url: instanceUrl,
    id,
    token_type: 'Bearer',
    issued_at: issuedAt,
  };
}

export function salesforceRouter(state: SalesforceState): express.Router {
  const r = express.Router();

  r.post('/services/oauth2/token', express.urlencoded({ extended: false }), (req, res) => {
    try {
      res.json(grantToken(state, req.body, `${req.protocol}://${req.get('host') ?? '127.0.0.1'}`));
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      res.status(err.status).json({ error: err.error, error_description: err.message });
    }
  });

  r.use('/services/data', express.json({ limit: '50mb' }), (req, res) => {
    if (takeFault(state, 'serverError')) {
      res.status(503).json(salesforceServerError(req.originalUrl, 503));
      return;
    }
    const url = new URL(req.originalUrl, 'http://sandbox');
    const route = /^\/services\/data\/v(\d+\.\d)\/(.*)$/.exec(url.pathname);
    const answer = answerOf(() => {
      if (!route) throw notFound();
      return dispatch(state, {
        method: req.method,
        version: route[1]!,
        path: route[2]!,
        query: url.searchParams,
        body: req.body,
        header: (name) => req.get(name),
      });
    });
    res.status(answer.status).set(answer.headers ?? {});
    if (answer.body === undefined) res.end();
    else res.json(answer.body);
  });

  r.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    // express.json's rejects, in Salesforce's words.
    if (
      isDataPath(req.originalUrl) &&
      err instanceof Error &&
      'type' in err &&
      err.type === 'entity.parse.failed'
    ) {
      sendError(res, new SfError(400, 'JSON_PARSER_ERROR', `Unexpected character: ${err.message}`));
      return;
    }
    next(err);
  });
  return r;
}

// ---------------------------------------------------------------------------------------------
// Outbound Messages

export const OUTBOUND_NAMESPACE = 'http://soap.sforce.com/2005/09/outbound';

const ElementName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'not a Salesforce field API name');
export const OutboundMessage = z.object({
  orgId: z
    .string()
    .regex(/^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/)
    .default(DEFAULT_ORG_ID),
  actionId: z.string().default('04k000000000001AAA'),
  instanceUrl: z.string().default('https://leadflow-sandbox.my.salesforce.com'),
  sessionId: z.string().nullable().default(null),
  sObject: z.enum(['Lead', 'Contact']),
  notifications: z
    .array(
      z.object({
        id: z.string().min(1),
        fields: z
          .record(ElementName, z.string().nullable())
          .refine((f) => typeof f.Id === 'string', 'every notification carries the record Id'),
      }),
    )
    .min(1)
    .max(100),
});
export type OutboundMessage = z.input<typeof OutboundMessage>;

const escapeXml = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/** The SOAP envelope Salesforce POSTs for an Outbound Message (record Id first, nulls as xsi:nil). */
export function outboundMessageXml(message: OutboundMessage): string {
  const m = OutboundMessage.parse(message);
  const version = DEFAULT_API_VERSION;
  const org15 = m.orgId.slice(0, 15);
  const notifications = m.notifications.map((n) => {
    const { Id, ...rest } = n.fields;
    const fields = Object.entries({ Id, ...rest }).map(([name, value]) =>
      value === null
        ? `     <sf:${name} xsi:nil="true"/>`
        : `     <sf:${name}>${escapeXml(value!)}</sf:${name}>`,
    );
    return [
      '   <Notification>',
      `    <Id>${escapeXml(n.id)}</Id>`,
      `    <sObject xsi:type="sf:${m.sObject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">`,
      ...fields,
      '    </sObject>',
      '   </Notification>',
    ].join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    ' <soapenv:Body>',
    `  <notifications xmlns="${OUTBOUND_NAMESPACE}">`,
    `   <OrganizationId>${escapeXml(m.orgId)}</OrganizationId>`,
    `   <ActionId>${escapeXml(m.actionId)}</ActionId>`,
    m.sessionId === null
      ? '   <SessionId xsi:nil="true"/>'
      : `   <SessionId>${escapeXml(m.sessionId)}</SessionId>`,
    `   <EnterpriseUrl>${escapeXml(`${m.instanceUrl}/services/Soap/c/${version}/${org15}`)}</EnterpriseUrl>`,
    `   <PartnerUrl>${escapeXml(`${m.instanceUrl}/services/Soap/u/${version}/${org15}`)}</PartnerUrl>`,
    ...notifications,
    '  </notifications>',
    ' </soapenv:Body>',
    '</soapenv:Envelope>',
    '',
  ].join('\n');
}

const ackParser = new XMLParser({ removeNSPrefix: true, processEntities: false, ignoreDeclaration: true });
const AckEnvelope = z.object({
  Envelope: z.object({
    Body: z.object({ notificationsResponse: z.object({ Ack: z.union([z.boolean(), z.string()]) }) }),
  }),
});

/** Whether an answer is a SOAP notificationsResponse with `<Ack>true</Ack>` (what Salesforce needs). */
export function isAck(status: number, body: string): boolean {
  if (status < 200 || status >= 300) return false;
  try {
    const parsed = AckEnvelope.safeParse(ackParser.parse(body));
    return parsed.success && String(parsed.data.Envelope.Body.notificationsResponse.Ack) === 'true';
  } catch {
    return false;
  }
}

/** POSTs an Outbound Message as Salesforce does and reports whether the receiver acknowledged it. */
export async function sendOutboundMessage(
  url: string,
  message: OutboundMessage,
): Promise<{ status: number; acked: boolean; body: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""' },
    body: outboundMessageXml(message),
  });
  const body = await res.text();
  return { status: res.status, acked: isAck(res.status, body), body };
}
