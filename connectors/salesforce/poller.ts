import type { Salesforce } from '../../src/config/schema.js';
import type { EngagementEvent, ProfileChange } from '../../src/domain/index.js';
import type { Logger } from '../../src/logger.js';
import type { Usage } from '../../src/store/api-usage.js';
import type { EngagementSource, PolledPage } from '../types.js';
import { cdcFieldMap, type CdcFieldMap } from './mapping.js';
import { pollPace } from './poll-pace.js';
import { pageQuery, type Cursor } from './poll-query.js';
import {
  Positioned,
  campaignMemberStream,
  eventStream,
  profileStream,
  taskStream,
  type PollStream,
} from './poll-streams.js';

/*
 * SOQL polling on `SystemModstamp` (it moves on automation too, unlike LastModifiedDate): Leads and
 * Contacts for missed profile changes, Tasks and Events for sales activity, CampaignMembers for
 * campaign responses. Pages are keyset-paginated on (SystemModstamp, Id), so each page is a fresh
 * query that a failure or a slowed run can resume from the stored watermark. Mapping is pure; the
 * only I/O is the `soql` function and the usage read.
 */

/** Page size of a source that is polled without being configured (a reconciliation after a CDC gap). */
const DEFAULT_PAGE_SIZE = 200;

/** Pages of raw records for one SOQL query (the connector follows `nextRecordsUrl`). */
export type Soql = (query: string) => AsyncIterable<Record<string, unknown>[]>;

export interface SalesforcePollerOptions {
  soql: Soql;
  config: Salesforce;
  /** The org's daily API usage as its answers report it; without it polling is never slowed. */
  usage?: { get(): Promise<Usage | null> };
  logger?: Logger;
}

/** One query's answer, mapped: what the page holds and where its stream stands afterwards. */
interface StreamPage {
  events: EngagementEvent[];
  profile: ProfileChange[];
  skipped: number;
  /** Records the query answered, usable or not: fewer than the page size means the end. */
  records: number;
  /** The last record read (keyset position), if any was. */
  last?: Positioned;
}

/**
 * The Salesforce poll sources (`leads`, `contacts`, `activities`, `campaignMembers`). Each page
 * reads up to `pageSize` records per sObject from the watermark, oldest first; its watermark is
 * the instant before which every sObject of the source has been read whole. Ids derive from the
 * records, so a page read twice records nothing twice.
 */
export class SalesforcePoller implements EngagementSource {
  private readonly soql: Soql;
  private readonly config: Salesforce;
  private readonly usage: SalesforcePollerOptions['usage'];
  private readonly logger: Logger | undefined;
  private readonly fieldMap: CdcFieldMap;

  constructor(options: SalesforcePollerOptions) {
    this.soql = options.soql;
    this.config = options.config;
    this.usage = options.usage;
    this.logger = options.logger;
    this.fieldMap = cdcFieldMap(options.config.fields);
  }

  poll(source: string, watermark: number, now: number): AsyncIterable<PolledPage> {
    return this.read(source, this.streams(source), watermark, now);
  }

  private streams(source: string): PollStream[] {
    switch (source) {
      case 'leads':
        return [profileStream('lead', this.fieldMap)];
      case 'contacts':
        return [profileStream('contact', this.fieldMap)];
      case 'activities':
        return [taskStream, eventStream];
      case 'campaignMembers': {
        const config = this.config.polling.campaignMembers;
        if (!config) throw new Error('Salesforce campaign member polling is not configured');
        return [campaignMemberStream(config)];
      }
      default:
        throw new Error(`unknown Salesforce poll source "${source}"`);
    }
  }

  /**
   * Pages until every stream is read to the end, or the daily usage says stop (checked before each
   * page, so a long backlog slows as usage climbs). A slowed run reads one page that moves the
   * watermark: a page that does not (all of it at the watermark's instant) does not count, or a
   * slowed poll would read that page forever.
   */
  private async *read(
    source: string,
    streams: PollStream[],
    since: number,
    now: number,
  ): AsyncIterable<PolledPage> {
    const settings: Partial<Record<string, { pageSize: number }>> = this.config.polling;
    const pageSize = settings[source]?.pageSize ?? DEFAULT_PAGE_SIZE;
    const cursors: Cursor[] = streams.map(() => ({ stamp: since }));
    let open = streams.map((_, i) => i);
    let watermark = since;
    let newest = since;
    let advanced = 0;
    let slowLogged = false;
    while (open.length) {
      const pace = this.usage ? pollPace(await this.usage.get(), this.config.dailyUsage, now) : 'full';
      if (pace === 'stopped') {
        this.logger?.warn(
          { source, stopAt: this.config.dailyUsage.stopAt },
          'Salesforce daily API usage is near the limit: polling paused',
        );
        return;
      }
      if (pace === 'slow') {
        if (advanced >= 1) return;
        if (!slowLogged)
          this.logger?.info(
            { source, slowAt: this.config.dailyUsage.slowAt },
            'Salesforce daily API usage is high: one page per poll',
          );
        slowLogged = true;
      }
      const page: Required<PolledPage> = { events: [], profile: [], watermark, skipped: 0 };
      let read = false;
      // Streams with a full page may hold more: everything before their last instant is read.
      const fullAt: number[] = [];
      const stillOpen: number[] = [];
      for (const i of open) {
        const stream = streams[i]!;
        const found = await this.page(stream, cursors[i]!, pageSize);
        page.events.push(...found.events);
        page.profile.push(...found.profile);
        page.skipped += found.skipped;
        if (found.records) read = true;
        if (!found.last) continue;
        newest = Math.max(newest, found.last.SystemModstamp);
        if (found.records < pageSize) continue;
        cursors[i] = { stamp: found.last.SystemModstamp, afterId: found.last.Id };
        fullAt.push(found.last.SystemModstamp);
        stillOpen.push(i);
      }
      open = stillOpen;
      page.watermark = open.length ? Math.max(watermark, Math.min(...fullAt)) : newest;
      if (!read && page.watermark === watermark) return;
      if (page.watermark > watermark) advanced++;
      watermark = page.watermark;
      yield page;
    }
  }

  /** One query of one stream: every record mapped, malformed ones counted and logged. */
  private async page(stream: PollStream, cursor: Cursor, pageSize: number): Promise<StreamPage> {
    const out: StreamPage = { events: [], profile: [], skipped: 0, records: 0 };
    for await (const batch of this.soql(pageQuery(stream, cursor, pageSize))) {
      for (const raw of batch) {
        out.records++;
        const position = Positioned.safeParse(raw);
        if (position.success) out.last = position.data;
        const outcome = stream.map(raw);
        if (outcome.kind === 'mapped') {
          out.events.push(...outcome.events);
          out.profile.push(...outcome.profile);
          continue;
        }
        out.skipped++;
        if (outcome.kind === 'invalid')
          this.logger?.warn(
            { sObject: stream.sObject, id: position.data?.Id, reason: outcome.reason },
            'skipped a malformed Salesforce record',
          );
      }
    }
    // Without a position the next page could not start after this one.
    if (out.records >= pageSize && !out.last)
      throw new Error(`a full page of ${stream.sObject} records without Id or SystemModstamp`);
    return out;
  }
}
