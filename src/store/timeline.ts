import type { RedisClient } from './redis.js';
import { z } from 'zod';
import {
  EngagementEvent,
  PropertyValue,
  type HistoryBucket,
  type LeadRef,
  type Profile,
  type ProfileChange,
} from '../domain/index.js';
import { BUILT_IN_EVENT_TYPES } from '../domain/event-types.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

/** A timeline entry: the event and when it reached us (for speed-to-lead). */
export interface TimelineEntry {
  e: EngagementEvent;
  r: number;
}

/** What a line written before the compact one held after its `occurredAt` (see decodeLine). */
const Line = z.tuple([
  z.string().min(1),
  z.string().min(1),
  z.string().min(1),
  z.number(),
  z.record(z.string(), PropertyValue).optional(),
]);
/** An entry as timelines held it before lines: a sorted set member. */
const LegacyEntry = z.object({ e: EngagementEvent, r: z.number() });

/** A history field's value: `n w lo hi`. */
const BucketValue = z
  .string()
  .transform((v) => v.split(' ').map(Number))
  .pipe(z.tuple([z.number().int().positive(), z.number().positive(), z.number(), z.number()]));

/** A script's answer for a timeline still in the old format. */
const OLD_FORMAT = -1;

export class TimelineStore {
  private readonly redis: Scripted;
  /** The line each entry was read from, so a fold removes exactly what it counted. */
  private readonly lines = new WeakMap<TimelineEntry, string>();

  /**
   * `leadTtlMs`: a lead's timeline, history and profile expire this long after they last changed
   * (see leadRetentionMs).
   */
  constructor(
    redis: RedisClient,
    private readonly k: Keys,
    private readonly ttl: { dedupeMs: number; leadMs: number },
  ) {
    this.redis = withScripts(redis);
  }

  /** Appends the event unless its id was seen before; returns whether it was new. */
  async recordEvent(event: EngagementEvent, receivedAt: number): Promise<boolean> {
    const added = await this.current(event.lead, () =>
      this.redis.leadflowRecordEvent(
        this.k.dedupe(event.id),
        this.k.timeline(event.lead),
        this.ttl.dedupeMs,
        encodeLine({ e: event, r: receivedAt }),
        this.ttl.leadMs,
      ),
    );
    return added === 1;
  }

  /** Applies the change unless its id was seen before; an older change never overwrites a newer one. */
  async recordProfileChange(change: ProfileChange): Promise<boolean> {
    const added = await this.redis.leadflowRecordProfile(
      this.k.dedupe(change.id),
      this.k.profile(change.lead),
      this.ttl.dedupeMs,
      change.field,
      change.occurredAt,
      JSON.stringify(change.value),
      this.ttl.leadMs,
    );
    return added === 1;
  }

  /** The lead's events since `since`, oldest first (ties by id). */
  async events(lead: LeadRef, since: number): Promise<TimelineEntry[]> {
    const raw = await this.current(lead, () => this.redis.get(this.k.timeline(lead)));
    const entries: TimelineEntry[] = [];
    for (const line of raw?.split('\n') ?? []) {
      if (line === '') continue;
      const entry = decodeLine(line, lead);
      if (entry.e.occurredAt < since) continue;
      this.lines.set(entry, line);
      entries.push(entry);
    }
    return entries.sort(
      (a, b) => a.e.occurredAt - b.e.occurredAt || (a.e.id < b.e.id ? -1 : a.e.id > b.e.id ? 1 : 0),
    );
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
    const lines = entries.map((entry) => {
      const line = this.lines.get(entry);
      if (line === undefined) throw new Error('fold: an entry not read from this store');
      return line;
    });
    return (await this.addHistory(lead, lines, buckets)) === 1;
  }

  /** Drops events and history buckets older than `before` so timelines stay bounded. */
  async trim(lead: LeadRef, before: number): Promise<void> {
    await this.current(lead, () =>
      this.redis.leadflowTrimTimeline(this.k.timeline(lead), this.k.history(lead), before, this.ttl.leadMs),
    );
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

  /** Moves a merged record's events into the surviving one (same lines, so a replay adds nothing). */
  async moveEvents(from: LeadRef, into: LeadRef): Promise<number> {
    const entries = await this.events(from, 0);
    if (entries.length) {
      const lines = entries.map(({ e, r }) => encodeLine({ e: { ...e, lead: into }, r }));
      await this.current(into, () =>
        this.redis.leadflowAddTimelineLines(this.k.timeline(into), this.ttl.leadMs, ...lines),
      );
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

  private addHistory(lead: LeadRef, lines: string[], buckets: readonly HistoryBucket[]): Promise<number> {
    const fields = buckets.flatMap((b) => [bucketField(b), b.n, b.w, b.lo, b.hi]);
    return this.current(lead, () =>
      this.redis.leadflowFoldHistory(
        this.k.timeline(lead),
        this.k.history(lead),
        this.ttl.leadMs,
        lines.length,
        ...lines,
        ...fields,
      ),
    );
  }

  /**
   * Runs `op` on the lead's timeline in the current format: a timeline still in the old one (a
   * sorted set: the script answers OLD_FORMAT, a read WRONGTYPE) is migrated first, then `op` runs again.
   */
  private async current<T>(lead: LeadRef, op: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const result = await op();
        if (result !== OLD_FORMAT) return result;
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('WRONGTYPE')) throw err;
      }
      await this.migrate(lead);
    }
  }

  private async migrate(lead: LeadRef): Promise<void> {
    const key = this.k.timeline(lead);
    for (;;) {
      const members = await this.redis.zrange(key, '0', '-1');
      const lines = members.map((m) => encodeLine(LegacyEntry.parse(JSON.parse(m))));
      if ((await this.redis.leadflowMigrateTimeline(key, this.ttl.leadMs, members.length, ...lines)) === 1)
        return;
    }
  }

  async mergeFetchedProfile(lead: LeadRef, profile: Profile, fetchedAt: number): Promise<void> {
    const pairs = Object.entries(profile).flatMap(([field, value]) => [field, JSON.stringify(value)]);
    await this.redis.leadflowMergeFetched(this.k.profile(lead), fetchedAt, this.ttl.leadMs, ...pairs);
  }
}

function bucketField(b: HistoryBucket): string {
  return `${b.rule}|${b.day}`;
}

/** Event types a line names by one character: their index in the built-in list (base 36). */
const TYPE_CODES = BUILT_IN_EVENT_TYPES;
/** In an encoded id: the lead's id, and (first) the event's source followed by `:`. */
const LEAD_ID = '\u0001';
const SOURCE = '\u0002';
/** Before a type that is one character long, so it is not read as a code. */
const VERBATIM = '\u0001';

/** JSON string escaping without the quotes: no tab, newline or control character is left raw. */
const escape = (text: string) => JSON.stringify(text).slice(1, -1);
const unescape = (text: string) => z.string().parse(JSON.parse(`"${text}"`));

/**
 * `<occurredAt base 36>\t<id>\t<type>\t<source>\t<receivedAt − occurredAt, base 36>[\t<properties>]`:
 * scoring and the note need nothing else. The id names the lead's id and a leading `<source>:` by a
 * control character, a built-in type is one character, the lead's own CRM as source is empty, and
 * the properties are their JSON without the braces. Every text is JSON-escaped, so tabs and
 * newlines only separate.
 */
function encodeLine({ e, r }: TimelineEntry): string {
  // A leading `[` escaped, so the line is never read as one in the old format.
  let id = escape(e.id).replace(/^\[/, '\\u005b');
  const sourcePrefix = `${escape(e.source)}:`;
  if (id.startsWith(sourcePrefix)) id = SOURCE + id.slice(sourcePrefix.length);
  if (e.lead.id.length > 1) id = id.replace(escape(e.lead.id), LEAD_ID);
  const code = (TYPE_CODES as readonly string[]).indexOf(e.type);
  const type =
    code >= 0 ? code.toString(36) : e.type.length === 1 ? VERBATIM + escape(e.type) : escape(e.type);
  const source = e.source === e.lead.crm ? '' : escape(e.source);
  const delay = r - e.occurredAt;
  const fields = [
    e.occurredAt.toString(36),
    id,
    type,
    source,
    Number.isSafeInteger(delay) ? delay.toString(36) : `=${r}`,
  ];
  if (Object.keys(e.properties).length > 0) fields.push(JSON.stringify(e.properties).slice(1, -1));
  return fields.join('\t');
}

const Base36 = z
  .string()
  .regex(/^-?[0-9a-z]+$/)
  .transform((v) => parseInt(v, 36));
const Properties = z.record(z.string(), PropertyValue);

function decodeLine(line: string, lead: LeadRef): TimelineEntry {
  const tab = line.indexOf('\t');
  // A line written before the compact one: `<occurredAt>\t[id, type, source, receivedAt, properties?]`.
  if (line[tab + 1] === '[') {
    const [id, type, source, r, properties] = Line.parse(JSON.parse(line.slice(tab + 1)));
    const occurredAt = z.coerce.number().int().nonnegative().parse(line.slice(0, tab));
    return { e: { id, lead, type, occurredAt, source, properties: properties ?? {} }, r };
  }
  const [at, rawId, rawType, rawSource, delay, properties] = line.split('\t');
  const occurredAt = Base36.pipe(z.number().int().nonnegative()).parse(at);
  const source = rawSource ? unescape(rawSource) : lead.crm;
  const type = z.string().min(1).parse(rawType);
  const id = unescape(
    z
      .string()
      .min(1)
      .parse(rawId)
      .replace(SOURCE, () => `${escape(source)}:`)
      .replace(LEAD_ID, () => escape(lead.id)),
  );
  return {
    e: {
      id,
      lead,
      type:
        type.length === 1
          ? z.enum(TYPE_CODES).parse(TYPE_CODES[parseInt(type, 36)])
          : unescape(type.startsWith(VERBATIM) ? type.slice(1) : type),
      occurredAt,
      source,
      properties: properties === undefined ? {} : Properties.parse(JSON.parse(`{${properties}}`)),
    },
    r: delay?.startsWith('=') ? z.coerce.number().parse(delay.slice(1)) : occurredAt + Base36.parse(delay),
  };
}
