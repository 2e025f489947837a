import type { RedisClient } from './redis.js';
import { z } from 'zod';
import {
  type EngagementEvent,
  type HistoryBucket,
  type LeadRef,
  type Profile,
  type ProfileChange,
} from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';
import {
  LeadRecords,
  profileChangeLine,
  profileOf,
  profileReadLine,
  type LeadRecord,
} from './lead-record.js';
import { decodeLine, encodeLine, lineOccurredAt, type TimelineEntry } from './timeline-line.js';

export type { TimelineEntry };

/** A history field's value: `n w lo hi`. */
const BucketValue = z
  .string()
  .transform((v) => v.split(' ').map(Number))
  .pipe(z.tuple([z.number().int().positive(), z.number().positive(), z.number(), z.number()]));

/**
 * A lead's timeline and profile, held in its record (lead-record.ts) with its state; its history
 * (events folded past the cap) in a hash of its own.
 */
export class TimelineStore {
  private readonly redis: Scripted;
  private readonly records: LeadRecords;
  /** The line each entry was read from, so a fold removes exactly what it counted. */
  private readonly lines = new WeakMap<TimelineEntry, string>();

  /**
   * `leadMs`: a lead's record and history expire this long after they last changed (see
   * leadRetentionMs).
   */
  constructor(
    redis: RedisClient,
    private readonly k: Keys,
    private readonly ttl: { dedupeMs: number; leadMs: number },
  ) {
    this.redis = withScripts(redis);
    this.records = new LeadRecords(this.redis, k);
  }

  /** Appends the event unless its id was seen before; returns whether it was new. */
  async recordEvent(event: EngagementEvent, receivedAt: number): Promise<boolean> {
    return (await this.recordLine(event.lead, event.id, encodeLine({ e: event, r: receivedAt }))) === 1;
  }

  /** Applies the change unless its id was seen before; an older change never overwrites a newer one. */
  async recordProfileChange(change: ProfileChange): Promise<boolean> {
    const line = profileChangeLine(change.field, change.occurredAt, change.value);
    return (await this.recordLine(change.lead, change.id, line)) === 1;
  }

  /** The lead's events since `since`, oldest first (ties by id). */
  async events(lead: LeadRef, since: number): Promise<TimelineEntry[]> {
    return this.entries((await this.records.read(lead)).record, lead, since).entries;
  }

  /**
   * The lead's record in one read: its events since `since` (as `events`), how many are older, its
   * profile (as `profile`), and the record as read, for a rewrite that follows (LeadStore.put).
   */
  async read(lead: LeadRef, since: number) {
    const held = await this.records.read(lead);
    const { record } = held;
    return {
      ...this.entries(record, lead, since),
      profile: profileOf(record),
      fetched: record.fetchedAt !== undefined,
      held,
    };
  }

  private entries(record: LeadRecord, lead: LeadRef, since: number) {
    const entries: TimelineEntry[] = [];
    let older = 0;
    for (const line of record.lines) {
      const entry = decodeLine(line, lead);
      if (entry.e.occurredAt < since) {
        older++;
        continue;
      }
      this.lines.set(entry, line);
      entries.push(entry);
    }
    entries.sort(
      (a, b) => a.e.occurredAt - b.e.occurredAt || (a.e.id < b.e.id ? -1 : a.e.id > b.e.id ? 1 : 0),
    );
    return { entries, older };
  }

  /** The lead's folded history, buckets whose newest event is at or after `since`. */
  async history(lead: LeadRef, since: number): Promise<HistoryBucket[]> {
    return (await this.allHistory(lead)).filter((b) => b.hi >= since);
  }

  /**
   * Removes `entries` (as read by `events`) from the timeline and adds `buckets`, what they fold
   * into, to the history; false, changing nothing, when another job folded or removed any of them.
   */
  async fold(
    lead: LeadRef,
    entries: readonly TimelineEntry[],
    buckets: readonly HistoryBucket[],
  ): Promise<boolean> {
    const folded = entries.map((entry) => {
      const line = this.lines.get(entry);
      if (line === undefined) throw new Error('fold: an entry not read from this store');
      return line;
    });
    return this.records.rewrite(
      lead,
      (record) => {
        // Each folded line once, as many times as it was read (a merge can repeat one).
        const left = new Map<string, number>();
        for (const line of folded) left.set(line, (left.get(line) ?? 0) + 1);
        const kept = record.lines.filter((line) => {
          const n = left.get(line) ?? 0;
          if (n > 0) left.set(line, n - 1);
          return n === 0;
        });
        if ([...left.values()].some((n) => n > 0)) return null;
        return { ...record, lines: kept };
      },
      { ttlMs: this.ttl.leadMs, history: { add: buckets } },
    );
  }

  /** Drops events and history buckets older than `before` so timelines stay bounded. */
  async trim(lead: LeadRef, before: number): Promise<void> {
    await this.records.rewrite(
      lead,
      (record) => ({ ...record, lines: record.lines.filter((line) => lineOccurredAt(line) >= before) }),
      { ttlMs: this.ttl.leadMs, history: { dropBefore: before } },
    );
  }

  /** The profile we hold and whether it was ever filled from the CRM. */
  async profile(lead: LeadRef): Promise<{ profile: Profile; fetched: boolean }> {
    const { record } = await this.records.read(lead);
    return { profile: profileOf(record), fetched: record.fetchedAt !== undefined };
  }

  /** A few profile fields of many leads in one round trip (for lists that show names). */
  async profileFields(leads: readonly LeadRef[], fields: readonly string[]): Promise<Profile[]> {
    return (await this.records.readMany(leads)).map(({ record }) => {
      const profile: Profile = {};
      for (const field of fields) {
        const held = record.profile.get(field);
        if (held) profile[field] = held.value;
      }
      return profile;
    });
  }

  /** Moves a merged record's events into the surviving one (same lines, so a replay adds nothing). */
  async moveEvents(from: LeadRef, into: LeadRef): Promise<number> {
    const entries = await this.events(from, 0);
    const history = await this.allHistory(from);
    if (!entries.length && !history.length) return 0;
    const lines = entries.map(({ e, r }) => encodeLine({ e: { ...e, lead: into }, r }));
    await this.records.rewrite(
      into,
      (record) => {
        const held = new Set(record.lines);
        return { ...record, lines: [...record.lines, ...lines.filter((line) => !held.has(line))] };
      },
      { ttlMs: this.ttl.leadMs, history: { add: history } },
    );
    return entries.length;
  }

  async mergeFetchedProfile(lead: LeadRef, profile: Profile, fetchedAt: number): Promise<void> {
    const [record, timeline, earlierProfile] = this.records.appendKeys(lead);
    const line = profileReadLine(fetchedAt, profile);
    await this.records.append(lead, this.ttl.leadMs, () =>
      this.redis.leadflowAppendLine(record, timeline, earlierProfile, line, this.ttl.leadMs),
    );
  }

  private recordLine(lead: LeadRef, id: string, line: string): Promise<number> {
    const [record, timeline, profile] = this.records.appendKeys(lead);
    return this.records.append(lead, this.ttl.leadMs, () =>
      this.redis.leadflowRecordLine(
        this.k.dedupe(id),
        record,
        timeline,
        profile,
        this.ttl.dedupeMs,
        line,
        this.ttl.leadMs,
      ),
    );
  }

  private async allHistory(lead: LeadRef): Promise<HistoryBucket[]> {
    const hash = await this.redis.hgetall(this.k.history(lead));
    return Object.entries(hash).map(([field, value]) => {
      const at = field.lastIndexOf('|');
      const [n, w, lo, hi] = BucketValue.parse(value);
      return { rule: field.slice(0, at), day: Number(field.slice(at + 1)), n, w, lo, hi };
    });
  }
}
