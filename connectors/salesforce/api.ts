import type { Connection } from 'jsforce';
import { z } from 'zod';
import type { Salesforce } from '../../src/config/schema.js';
import { PropertyValue, type LeadRef, type Profile } from '../../src/domain/index.js';
import type { Logger } from '../../src/logger.js';
import type { ApiUsage } from '../../src/store/api-usage.js';
import type { RateBudget } from '../../src/store/rate-budget.js';
import type { CrmReachability } from '../../src/store/reachability.js';
import { crmCaller, type CallFn, type CrmCall } from '../call.js';
import { CrmError } from '../errors.js';
import type { CrmCallObservation } from '../types.js';
import type { SalesforceSession } from './auth.js';
import { compositeError, toSalesforceFailure } from './errors.js';
import { RECORD_ID, salesforceTime } from './soql.js';

/** Lead assignment rules run on every REST create/update unless told not to. */
export const NO_AUTO_ASSIGN = { 'Sforce-Auto-Assign': 'FALSE' };

export const Row = z.record(z.string(), z.unknown());
export const QueryPage = z.object({
  done: z.boolean(),
  nextRecordsUrl: z.string().optional(),
  records: z.array(Row),
});
const Created = z.object({ id: z.string().min(1) });
const CompositeAnswer = z.object({
  compositeResponse: z.array(
    z.object({ body: z.unknown(), httpStatusCode: z.number().int(), referenceId: z.string() }),
  ),
});
/** The slice of a describe answer the connector and `config check` read. */
export const SObjectDescribe = z.object({
  name: z.string(),
  fields: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      createable: z.boolean(),
      updateable: z.boolean(),
      picklistValues: z
        .array(z.object({ value: z.string(), label: z.string().nullish(), active: z.boolean() }))
        .default([]),
    }),
  ),
});
export type SObjectDescribe = z.infer<typeof SObjectDescribe>;

export interface SubRequest {
  method: 'GET' | 'POST' | 'PATCH';
  url: string;
  referenceId: string;
  body?: unknown;
  httpHeaders?: Record<string, string>;
}

/** Where a lead lives in Salesforce: its sObject and that object's field mapping. */
export interface Target {
  sObject: 'Lead' | 'Contact';
  id: string;
  fields: Record<string, string>;
  lifecycle: string;
  owner: string;
}

export interface SalesforceConnectorOptions {
  session: SalesforceSession;
  config: Salesforce;
  /** The org's shared request budget (`requestsPerSecond`); every call waits for its turn. */
  budget?: RateBudget;
  /** Whether the org answers at all, shared by every process (connectors/call.ts). */
  reachability?: CrmReachability;
  /** Where the org's daily usage (`Sforce-Limit-Info`) is recorded for the poller. */
  usage?: ApiUsage;
  /** Told about every call, for metrics. */
  onCall?: (call: CrmCallObservation) => void;
  logger?: Logger;
  now?: () => number;
  /**
   * `pipeline.batching`: handoffs of many leads share requests while there is a backlog (batches.ts);
   * false gives every handoff requests of its own. true unless given, as in the config.
   */
  batching?: boolean;
}

/**
 * How the Salesforce adapter talks to the org: the jsforce session, the shared call wrapper with
 * Salesforce's own hooks (session readiness, Sforce-Limit-Info), REST, composite and SOQL requests,
 * and where a lead lives. The score writes (scores.ts), the requests handoffs share across leads
 * (batches.ts), the handoff (handoff.ts) and the connector (connector.ts) build on it, in that order.
 */
export abstract class SalesforceApi {
  protected readonly session: SalesforceSession;
  protected readonly config: Salesforce;
  protected readonly logger: Logger | undefined;
  protected readonly now: () => number;
  private readonly usage: ApiUsage | undefined;
  private readonly callCrm: CrmCall;
  private readonly describes = new Map<string, Promise<SObjectDescribe>>();

  constructor(opts: SalesforceConnectorOptions) {
    this.session = opts.session;
    this.config = opts.config;
    this.usage = opts.usage;
    this.callCrm = crmCaller({
      crm: 'salesforce',
      timeoutMs: opts.config.timeoutMs,
      budget: opts.budget,
      reachability: opts.reachability,
      onCall: opts.onCall,
      toFailure: toSalesforceFailure,
      before: () => this.session.ready(),
    });
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
  }

  /** The jsforce connection, for the CDC subscriber (it streams with the same session). */
  get connection(): Connection {
    return this.session.conn;
  }

  /** Called after every token refresh (the token itself is not passed on); returns the unsubscribe. */
  onRefresh(listener: () => void): () => void {
    const handler = () => listener();
    this.session.conn.on('refresh', handler);
    return () => void this.session.conn.removeListener('refresh', handler);
  }

  /**
   * Every request goes through here (connectors/call.ts), once the session is ready, and the org's
   * daily usage is recorded. An expired session is
   * refreshed by jsforce, which resends the request once (auth.ts refuses a second refresh in a row).
   * POST and PATCH are never resent here: the queue retries by classification, and the marker
   * lookup keeps a resent handoff from creating a second task.
   */
  protected async call<T>(endpoint: string, what: string, fn: CallFn<T>, leads?: number): Promise<T> {
    const before = this.session.conn.limitInfo;
    try {
      return await this.callCrm(endpoint, what, fn, undefined, leads);
    } finally {
      await this.recordUsage(before);
    }
  }

  /** Records `Sforce-Limit-Info` when this call's answer carried it (jsforce replaces limitInfo then). */
  private async recordUsage(before: Connection['limitInfo']): Promise<void> {
    const info = this.session.conn.limitInfo;
    if (!this.usage || info === before || !info.apiUsage) return;
    // Best effort: a Redis hiccup must not fail a CRM call that succeeded.
    await this.usage
      .record(info.apiUsage.used, info.apiUsage.limit, this.now())
      .catch((err: unknown) =>
        this.logger?.warn({ err: (err as Error).message }, 'could not record Salesforce API usage'),
      );
  }

  protected send<T = unknown>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): PromiseLike<T> {
    return this.session.conn.request<T>(
      {
        method,
        url,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headers: { 'content-type': 'application/json', ...headers },
      },
      // jsforce's own retries (GETs on 5xx and resets) stay off: the queue classifies failures.
      { timeout: this.config.timeoutMs, retry: { maxRetries: 0 } },
    );
  }

  /** A REST path as composite subrequests need it: from the root, with the API version. */
  protected dataPath(path: string): string {
    return `/services/data/v${this.config.apiVersion}${path}`;
  }

  /**
   * One composite request; answers each subrequest's body by referenceId, or throws the failure
   * of the subrequest that caused it (not its PROCESSING_HALTED siblings).
   */
  protected async composite(
    endpoint: string,
    what: string,
    requests: SubRequest[],
    allOrNone: boolean,
  ): Promise<Map<string, { status: number; body: unknown }>> {
    const answer = await this.call(endpoint, what, () =>
      this.send('POST', '/composite', { allOrNone, compositeRequest: requests }),
    );
    const parsed = CompositeAnswer.safeParse(answer);
    if (!parsed.success)
      throw new CrmError({ crm: 'salesforce', status: 502, message: `${what}: unexpected composite answer` });
    const subresponses = parsed.data.compositeResponse;
    const failed = allOrNone ? compositeError(what, subresponses) : undefined;
    if (failed) throw failed;
    return new Map(subresponses.map((s) => [s.referenceId, { status: s.httpStatusCode, body: s.body }]));
  }

  protected target(lead: LeadRef): Target {
    checkId(lead.id, 'lead');
    return { ...this.objectOf(lead.objectType), id: lead.id };
  }

  protected objectOf(objectType: LeadRef['objectType']): Omit<Target, 'id'> {
    const f = this.config.fields;
    const fields = objectType === 'lead' ? f.lead : f.contact;
    return {
      sObject: objectType === 'lead' ? 'Lead' : 'Contact',
      fields,
      lifecycle: objectType === 'lead' ? f.lifecycle.lead : f.lifecycle.contact,
      owner: fields.ownerId ?? 'OwnerId',
    };
  }

  /** An sObject's describe, read once per process (fields change only when an admin edits the org). */
  describe(sObject: string): Promise<SObjectDescribe> {
    const cached = this.describes.get(sObject);
    if (cached) return cached;
    const read = this.call('sobjects.describe', `describe ${sObject}`, () =>
      this.send('GET', `/sobjects/${sObject}/describe`),
    ).then((body) => SObjectDescribe.parse(body));
    this.describes.set(sObject, read);
    // A failed describe must not be cached.
    read.catch(() => this.describes.delete(sObject));
    return read;
  }

  protected profileFields(t: Omit<Target, 'id'>): string[] {
    return [...new Set(['Id', ...Object.values(t.fields), t.lifecycle])];
  }

  /**
   * `Sforce-Auto-Assign: FALSE` unless routing is delegated to the org's assignment rules. Task
   * writes carry it too: a trigger on Task that updates the Task's Lead re-runs them otherwise.
   */
  protected assignHeaders(): Record<string, string> | undefined {
    return this.config.routing === 'assignment_rules' ? undefined : NO_AUTO_ASSIGN;
  }

  /** Pages of raw records for a SOQL query, following nextRecordsUrl; each page is one call. */
  async *soql(query: string): AsyncIterable<Record<string, unknown>[]> {
    let page = await this.queryPage(query);
    yield page.records;
    while (!page.done && page.nextRecordsUrl) {
      const next = page.nextRecordsUrl;
      page = QueryPage.parse(
        await this.call('query.more', 'read the next query page', () => this.send('GET', next)),
      );
      yield page.records;
    }
  }

  /** One page of a query; errors name the sObject only (the query may hold an email address). */
  protected async queryPage(query: string): Promise<z.infer<typeof QueryPage>> {
    const answer = await this.call('query', `query ${/\bFROM\s+(\w+)/i.exec(query)?.[1] ?? 'records'}`, () =>
      this.send('GET', `/query?q=${encodeURIComponent(query)}`),
    );
    return QueryPage.parse(answer);
  }
}

/** Ids go into URLs and SOQL literals: anything but a Salesforce id is refused before it is sent. */
export function checkId(id: string, what: string): void {
  if (!RECORD_ID.test(id))
    throw new CrmError({
      crm: 'salesforce',
      status: 400,
      code: 'MALFORMED_ID',
      message: `${what} id "${id.slice(0, 40)}" is not a Salesforce id`,
    });
}

export function createdId(body: unknown, what: string): string {
  const parsed = Created.safeParse(body);
  if (!parsed.success)
    throw new CrmError({ crm: 'salesforce', status: 502, message: `${what}: the answer has no record id` });
  return parsed.data.id;
}

export function toProfile(t: Omit<Target, 'id'>, row: Record<string, unknown>): Profile {
  const profile: Profile = {};
  const keep = (key: string, value: unknown) => {
    const parsed = PropertyValue.safeParse(value);
    if (parsed.success && parsed.data !== null && parsed.data !== '') profile[key] = parsed.data;
  };
  for (const [field, name] of Object.entries(t.fields)) keep(field, row[name]);
  keep('lifecycleStage', row[t.lifecycle]);
  return profile;
}

/** Salesforce datetimes (`2026-11-24T09:48:00.000+0000`) as ms; undefined when absent or unreadable. */
export function sfTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = salesforceTime(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A lower bound in the literal form Salesforce documents (whole seconds), never later than `ms`. */
export function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
