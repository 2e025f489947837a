import type { Redis } from 'ioredis';
import { z } from 'zod';
import {
  EngagementEvent,
  PropertyValue,
  type LeadRef,
  type Profile,
  type ProfileChange,
} from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

/** A timeline entry: the event and when it reached us (for speed-to-lead). */
const TimelineEntry = z.object({ e: EngagementEvent, r: z.number() });
export type TimelineEntry = z.infer<typeof TimelineEntry>;

export class TimelineStore {
  private readonly redis: Scripted;

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
    return members.map((m) => TimelineEntry.parse(JSON.parse(m)));
  }

  /** Drops events older than `before` so timelines stay bounded. */
  async trim(lead: LeadRef, before: number): Promise<void> {
    await this.redis.zremrangebyscore(this.k.timeline(lead), '-inf', `(${before}`);
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

  /** A few profile fields of many leads in one round trip (for lists that show names). */
  async profileFields(leads: readonly LeadRef[], fields: readonly string[]): Promise<Profile[]> {
    if (!leads.length) return [];
    const pipeline = this.redis.pipeline();
    for (const lead of leads) pipeline.hmget(this.k.profile(lead), ...fields.map((f) => `v:${f}`));
    const rows = (await pipeline.exec()) ?? [];
    return rows.map(([err, values]) => {
      if (err) throw err;
      const profile: Profile = {};
      (values as (string | null)[]).forEach((raw, i) => {
        if (raw !== null) profile[fields[i]!] = PropertyValue.parse(JSON.parse(raw));
      });
      return profile;
    });
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
    return entries.length;
  }

  /** Drops a lead's timeline and profile (deleted in the CRM, or merged into another). */
  async forget(lead: LeadRef): Promise<void> {
    await this.redis.del(this.k.timeline(lead), this.k.profile(lead));
  }

  async mergeFetchedProfile(lead: LeadRef, profile: Profile, fetchedAt: number): Promise<void> {
    const pairs = Object.entries(profile).flatMap(([field, value]) => [field, JSON.stringify(value)]);
    await this.redis.leadflowMergeFetched(this.k.profile(lead), fetchedAt, ...pairs);
  }
}
