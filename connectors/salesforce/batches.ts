import { z } from 'zod';
import { containsMarker } from '../../src/domain/index.js';
import { Coalescer, type ItemOutcome } from '../coalesce.js';
import { findMarked, MARKER_LOOKBACK_MS, type MarkedRecord } from '../create-once.js';
import { CrmError } from '../errors.js';
import { Row, wholeSeconds, type SalesforceConnectorOptions, type SubRequest, type Target } from './api.js';
import { GRAPHS_MAX, graphOutcomes, graphRequest, type SubAnswers } from './graph.js';
import { SalesforceScores } from './scores.js';
import { soqlDatetime } from './soql.js';

/** Records per marker lookup: the `WhoId IN (...)` list keeps the WHERE clause well under 4,000 characters. */
const LOOKUP_MAX = 100;
/** sObject Collections retrieve takes up to 2,000 ids of one sObject a request. */
const RETRIEVE_MAX = 2_000;
const Rows = z.array(Row.nullable());

/** A record's fields as read. */
type RecordRow = Record<string, unknown>;
interface HandoffRequests {
  what: string;
  /** The record it writes: two handoffs of one record never share a request. */
  record: string;
  requests: SubRequest[];
}
interface MarkerLookup {
  t: Target;
  key: string;
}

/** Ids compare on their case-sensitive 15-character form (the 18-character one adds a checksum). */
const sameId = (a: unknown, b: string) => typeof a === 'string' && a.slice(0, 15) === b.slice(0, 15);

/**
 * The requests a handoff makes, shared across leads while there is a backlog (pipeline.batching):
 * record reads, marker lookups and the handoff writes each go through a Coalescer, one request of a
 * kind in flight per process. A request that finds no other waiting goes out as it does without
 * batching (a GET, the lead's own query, one composite request), so a lone handoff waits for
 * nothing and costs what it always did; several go out as one sObject Collections retrieve, one
 * SOQL query over all their records, or one Composite Graph with a graph per lead.
 */
export abstract class SalesforceBatches extends SalesforceScores {
  protected readonly batching: boolean;
  private readonly reads = new Map<Target['sObject'], Coalescer<string, RecordRow>>();
  private readonly lookups: Coalescer<MarkerLookup, string | undefined>;
  private readonly writes: Coalescer<HandoffRequests, SubAnswers>;

  constructor(opts: SalesforceConnectorOptions) {
    super(opts);
    this.batching = opts.batching ?? true;
    this.lookups = new Coalescer({ max: LOOKUP_MAX, send: (items) => this.lookUpMarkers(items) });
    this.writes = new Coalescer({
      max: GRAPHS_MAX,
      keyOf: (w) => w.record,
      send: (items) => this.sendHandoffs(items),
    });
  }

  /**
   * A record's fields: these (a GET of its own), or, batching, every profile field and the
   * lifecycle field — whatever any reader asks of a Lead or Contact — so reads of many leads share
   * one request.
   */
  protected readRecord(t: Target, fields: string[]): Promise<RecordRow> {
    return this.batching ? this.readsOf(t).submit(t.id) : this.getRecord(t, fields);
  }

  /** The Task an earlier attempt of handoff `key` created on the record, by its marker. */
  protected findHandoffTask(t: Target, key: string): Promise<string | undefined> {
    return this.batching ? this.lookups.submit({ t, key }) : findMarked(this.recentTasks(t), key);
  }

  /** A handoff's subrequests, all or nothing: its own composite request, or its own graph among others'. */
  protected writeHandoffRequests(what: string, t: Target, requests: SubRequest[]): Promise<SubAnswers> {
    if (!this.batching) return this.composite('composite.handoff', what, requests, true);
    return this.writes.submit({ what, record: `${t.sObject}/${t.id}`, requests });
  }

  /**
   * The lead's recent Tasks with their Description, where an earlier attempt's marker would be. Long
   * text cannot be filtered in SOQL, so the marker is looked for here. The connector's Task creates
   * look through them too.
   */
  protected async *recentTasks(t: Target): AsyncIterable<MarkedRecord[]> {
    for await (const rows of this.soql(
      `SELECT Id, Description FROM Task WHERE WhoId = '${t.id}' AND CreatedDate >= ${this.markerSince()} ORDER BY CreatedDate DESC`,
    ))
      yield rows.map((r) => ({
        id: String(r.Id),
        body: typeof r.Description === 'string' ? r.Description : '',
      }));
  }

  private markerSince(): string {
    return soqlDatetime(wholeSeconds(this.now() - MARKER_LOOKBACK_MS));
  }

  private async getRecord(t: Target, fields: string[]): Promise<RecordRow> {
    const row = await this.call('sobjects.get', `read ${t.sObject} ${t.id}`, () =>
      this.send('GET', `/sobjects/${t.sObject}/${t.id}?fields=${fields.join(',')}`),
    );
    return Row.parse(row);
  }

  private readsOf(t: Target): Coalescer<string, RecordRow> {
    let reads = this.reads.get(t.sObject);
    if (!reads) {
      const type = this.objectOf(t.sObject === 'Lead' ? 'lead' : 'contact');
      const fields = this.profileFields(type);
      reads = new Coalescer({
        max: RETRIEVE_MAX,
        keyOf: (id) => id,
        send: (ids) => this.retrieve(type, fields, ids),
      });
      this.reads.set(t.sObject, reads);
    }
    return reads;
  }

  /** Records of one sObject by id: sObject Collections retrieve, null for one that is not there. */
  private async retrieve(
    type: Omit<Target, 'id'>,
    fields: string[],
    ids: string[],
  ): Promise<ItemOutcome<RecordRow>[]> {
    if (ids.length === 1)
      return [{ ok: true, value: await this.getRecord({ ...type, id: ids[0]! }, fields) }];
    const what = `read ${ids.length} ${type.sObject} records`;
    const answer = await this.call(
      'composite.sobjects.retrieve',
      what,
      () => this.send('POST', `/composite/sobjects/${type.sObject}`, { ids, fields }),
      ids.length,
    );
    const rows = Rows.safeParse(answer);
    if (!rows.success || rows.data.length !== ids.length)
      throw new CrmError({
        crm: 'salesforce',
        status: 502,
        message: `${what}: expected ${ids.length} records, got an unexpected answer`,
      });
    const found = rows.data.filter((row) => row !== null);
    return ids.map((id): ItemOutcome<RecordRow> => {
      const row = found.find((r) => sameId(r.Id, id));
      return row
        ? { ok: true, value: row }
        : {
            ok: false,
            error: new CrmError({
              crm: 'salesforce',
              status: 404,
              code: 'NOT_FOUND',
              message: `read ${type.sObject} ${id}: no such record, or the integration user cannot see it`,
            }),
          };
    });
  }

  /** Earlier attempts' Tasks of many handoffs: one query over all their records' recent Tasks. */
  private async lookUpMarkers(items: MarkerLookup[]): Promise<ItemOutcome<string | undefined>[]> {
    if (items.length === 1) {
      const [{ t, key }] = items as [MarkerLookup];
      return [{ ok: true, value: await findMarked(this.recentTasks(t), key) }];
    }
    const ids = [...new Set(items.map((i) => i.t.id))];
    const rows: RecordRow[] = [];
    for await (const page of this.soql(
      `SELECT Id, WhoId, Description FROM Task WHERE WhoId IN (${ids.map((id) => `'${id}'`).join(', ')}) AND CreatedDate >= ${this.markerSince()} ORDER BY CreatedDate DESC`,
    ))
      rows.push(...page);
    return items.map(({ t, key }) => {
      const found = rows.find(
        (r) =>
          sameId(r.WhoId, t.id) && typeof r.Description === 'string' && containsMarker(r.Description, key),
      );
      return { ok: true, value: found ? String(found.Id) : undefined };
    });
  }

  /** One lead's subrequests as one composite request, or many leads' as a graph each in one request. */
  private async sendHandoffs(items: HandoffRequests[]): Promise<ItemOutcome<SubAnswers>[]> {
    if (items.length === 1) {
      const [{ what, requests }] = items as [HandoffRequests];
      return [{ ok: true, value: await this.composite('composite.handoff', what, requests, true) }];
    }
    const what = `hand over ${items.length} leads`;
    const answer = await this.call(
      'composite.graph',
      what,
      () => this.send('POST', '/composite/graph', graphRequest(items.map((i) => i.requests))),
      items.length,
    );
    return graphOutcomes(
      answer,
      items.map((i) => i.what),
      what,
    );
  }
}
