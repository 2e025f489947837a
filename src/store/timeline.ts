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

// Dedupe mark and write happen in one script: a crash can never leave an event marked seen but not stored.
const RECORD_EVENT = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0`;

// Profile changes arrive unordered: keep a field's value only if it is newer than what we hold.
const RECORD_PROFILE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  local t = tonumber(redis.call('HGET', KEYS[2], 't:' .. ARGV[2]) or '-1')
  if tonumber(ARGV[3]) > t then
    redis.call('HSET', KEYS[2], 'v:' .. ARGV[2], ARGV[4], 't:' .. ARGV[2], ARGV[3])
  end
  return 1
end
return 0`;

// Values read from the CRM describe the record as of `fetchedAt`; newer webhook values still win.
const MERGE_FETCHED = `
local n = 0
for i = 2, #ARGV, 2 do
  local t = tonumber(redis.call('HGET', KEYS[1], 't:' .. ARGV[i]) or '-1')
  if tonumber(ARGV[1]) > t then
    redis.call('HSET', KEYS[1], 'v:' .. ARGV[i], ARGV[i + 1], 't:' .. ARGV[i], ARGV[1])
    n = n + 1
  end
end
redis.call('HSET', KEYS[1], 'fetchedAt', ARGV[1])
return n`;

/** A timeline entry: the event and when it reached us (for speed-to-lead). */
const TimelineEntry = z.object({ e: EngagementEvent, r: z.number() });
export type TimelineEntry = z.infer<typeof TimelineEntry>;

type Scripted = Redis & {
  leadflowRecordEvent(
    dedupe: string,
    timeline: string,
    ttl: number,
    at: number,
    member: string,
  ): Promise<number>;
  leadflowRecordProfile(
    dedupe: string,
    profile: string,
    ttl: number,
    field: string,
    at: number,
    value: string,
  ): Promise<number>;
  leadflowMergeFetched(profile: string, ...args: (string | number)[]): Promise<number>;
};

function scripted(redis: Redis): Scripted {
  const r = redis as Scripted;
  if (typeof r.leadflowRecordEvent !== 'function') {
    redis.defineCommand('leadflowRecordEvent', { numberOfKeys: 2, lua: RECORD_EVENT });
    redis.defineCommand('leadflowRecordProfile', { numberOfKeys: 2, lua: RECORD_PROFILE });
    redis.defineCommand('leadflowMergeFetched', { numberOfKeys: 1, lua: MERGE_FETCHED });
  }
  return r;
}

export class TimelineStore {
  private readonly redis: Scripted;

  constructor(
    redis: Redis,
    private readonly k: Keys,
    private readonly dedupeTtlMs: number,
  ) {
    this.redis = scripted(redis);
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
    const args: (string | number)[] = [fetchedAt];
    for (const [field, value] of Object.entries(profile)) args.push(field, JSON.stringify(value));
    await this.redis.leadflowMergeFetched(this.k.profile(lead), ...args);
  }
}
