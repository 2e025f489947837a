import { z } from 'zod';
import { autoAssign, methodNotAllowed, parseBody, type ApiAnswer, type ApiRequest } from './api.js';
import type { FieldDescribe, SObjectDescribe } from './describe.js';
import { notFound, RECORD_ID, SfError, sfDatetime } from './errors.js';
import { defaults, type FieldValue, type SalesforceState, type SfRecord } from './state.js';
import { instant, to18 } from '../soql.js';

/** The sObject resource (create, read, update, delete) and the validation every API write goes through. */

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

  // Validation rules run on every API save after the system checks; FIELD_CUSTOM_VALIDATION_EXCEPTION.
  for (const rule of state.validationRules)
    if (rule.sObject === describe.name && rule.fails(after))
      throw new SfError(
        400,
        'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        rule.message,
        rule.field ? [rule.field] : [],
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

export function existing(state: SalesforceState, describe: SObjectDescribe, id: string): SfRecord {
  if (!RECORD_ID.test(id) || !to18(id).startsWith(describe.keyPrefix))
    throw new SfError(400, 'MALFORMED_ID', `${describe.label} ID: id value of incorrect type: ${id}`, ['Id']);
  const record = state.get(describe.name, id);
  if (!record) throw notFound();
  return record;
}

export function deleteRecord(state: SalesforceState, sObjectName: string, id: string): void {
  const describe = state.describeOf(sObjectName);
  existing(state, describe, id);
  state.remove(describe.name, id);
}

/** A record as GET /sobjects answers it: attributes, then every (or the asked) field. */
export function recordView(describe: SObjectDescribe, record: SfRecord, version: string, only?: string[]) {
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

const Fields = z.record(z.string(), z.unknown());

export function sobjects(state: SalesforceState, req: ApiRequest, parts: string[]): ApiAnswer {
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
