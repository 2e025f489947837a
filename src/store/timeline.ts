import type { Redis } from 'ioredis';
import { z } from 'zod';
import {
  EngagementEvent,
  PropertyValue,
  type HistoryBucket,
  type LeadRef,
  type Profile,
  type ProfileChange,
} from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

/** A timeline entry: the event and when it reached us (for speed-to-lead). */
const TimelineEntry = z.object({ e: EngagementEvent, r: z.number() });
export type TimelineEntry = z.infer<typeof TimelineEntry>;

/** A history field's value: `n w lo hi`. */
const BucketValue = z
  .string()
  .transform((v) => v.split(' ').map(Number))
  .pipe(z.tuple([z.number().int().positive(), z.number().positive(), z.number(), z.number()]));

export class TimelineStore {
  private readonly redis: Scripted;
  /** The member each entry was read from, so a fold removes exactly what it counted. */
  private readonly members = new WeakMap<TimelineEntry, string>();

  constructor(
    redis: Redis,
    private readonly k: Keys,
    private readonly dedupeTtlMs: number,
  ) {
    this.redis = withScripts(redis);
  }

  /** Appends the event unless its id was seen before; returns whether it was new. */
  async recordEvent(event: EngagementEvent, receivedAt: number): Promise<boolean> {
    const entry: TimelineEntry = { e: event, r: receivedAt };
    const added = await this.redis.leadflowRecordEvent(
      this.k.dedupe(event.id),
      this.k.timeline(event.lead),
      this.dedupeTtlMs,
      event.occurredAt,
      JSON.stringify(entry),
    );
    return added === 1;
  }

  /** Applies the change unless its id was seen before; an older change never overwrites a newer one. */
  async recordProfileChange(change: ProfileChange): Promise<boolean> {
    const added = await this.redis.leadflowRecordProfile(
      this.k.dedupe(change.id),
      this.k.profile(change.lead),
      this.dedupeTtlMs,
      change.field,
      change.occurredAt,
      JSON.stringify(change.value),
    );
    return added === 1;
  }

  /** The lead's events since `since`, oldest first. */
  async events(lead: LeadRef, since: number): Promise<TimelineEntry[]> {
    const members = await this.redis.zrangebyscore(this.k.timeline(lead), since, '+inf');
    return members.map((m) => {
      const entry = TimelineEntry.parse(JSON.parse(m));
      this.members.set(entry, m);
      return entry;
    });
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
    const members = entries.map((entry) => {
      const m = this.members.get(entry);
      if (m === undefined) throw new Error('fold: an entry not read from this store');
      return m;
    });
    return (await this.addHistory(lead, members, buckets)) === 1;
  }

  /** Drops events and history buckets older than `before` so timelines stay bounded. */
  async trim(lead: LeadRef, before: number): Promise<void> {
    await this.redis.zremrangebyscore(this.k.timeline(lead), '-inf', `(${before}`);
    const stale = (await this.allHistory(lead)).filter((b) => b.hi < before).map(bucketField);
    if (stale.length) await this.redis.hdel(this.k.history(lead), ...stale);
  }

  /** The profile we hold and whether it was ever filled from the CRM. */
  async profile(lead: LeadRef): Promise<{ profile: Profile; fetched: boolean }> {
    const hash = await this.redis.hgetall(this.k.profile(lead));
    const profile: Profile = {};
    for (const [name, raw] of Object.entries(hash)) {
      if (name.startsWith('v:')) profile[name.slice(2)] = PropertyValue.parse(JSON.parse(raw));
    }
    return { profile, fetched: hash.fetchedAt !== undefined };
  }

  /** Moves a merged record's events into the surviving one (same members, so a replay adds nothing). */
  async moveEvents(from: LeadRef, into: LeadRef): Promise<number> {
    const entries = await this.events(from, 0);
    if (entries.length) {
      const args = entries.flatMap(({ e, r }) => [
        e.occurredAt,
        JSON.stringify({ e: { ...e, lead: into }, r }),
      ]);
      await this.redis.zadd(this.k.timeline(into), ...args);
    }
    const history = await this.allHistory(from);
    if (history.length) await this.addHistory(into, [], history);
    return entries.length;
  }

  /** Drops a lead's timeline, history and profile (deleted in the CRM, or merged into another). */
  async forget(lead: LeadRef): Promise<void> {
    await this.redis.del(this.k.timeline(lead), this.k.history(lead), this.k.profile(lead));
  }

  private async allHistory(lead: LeadRef): Promise<HistoryBucket[]> {
    const hash = await this.redis.hgetall(this.k.history(lead));
    return Object.entries(hash).map(([field, value]) => {
      const at = field.lastIndexOf('|');
      const [n, w, lo, hi] = BucketValue.parse(value);
      return { rule: field.slice(0, at), day: Number(field.slice(at + 1)), n, w, lo, hi };
    });
  }

  private addHistory(lead: LeadRef, members: string[], buckets: readonly HistoryBucket[]): Promise<number> {
    const fields = buckets.flatMap((b) => [bucketField(b), b.n, b.w, b.lo, b.hi]);
    return this.redis.leadflowFoldHistory(
      this.k.timeline(lead),
      this.k.history(lead),
      members.length,
      ...members,
      ...fields,
    );
  }

  async mergeFetchedProfile(lead: LeadRef, profile: Profile, fetchedAt: number): Promise<void> {
    const pairs = Object.entries(profile).flatMap(([field, value]) => [field, JSON.stringify(value)]);
    await this.redis.leadflowMergeFetched(this.k.profile(lead), fetchedAt, ...pairs);
  }
}

function bucketField(b: HistoryBucket): string {
  return `${b.rule}|${b.day}`;
}
