import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { z } from 'zod';
import { PropertyValue, type HistoryBucket, type LeadRef, type Profile } from '../domain/index.js';
import { leadKey } from '../domain/index.js';
import type { Keys } from './keys.js';
import type { Scripted } from './scripts.js';
import { encodeLine, LegacyEntry } from './timeline-line.js';

/**
 * What leadflow keeps of one lead, in one string key (`lead:<lead key>`): one key and one expiry
 * entry per lead instead of three of each. The value is
 *
 *   `\x02<generation>:<score total>:<block length>\n` <block> <tail>
 *
 * - the header is what Lua decides on: the generation (every rewrite moves it, appends do not) and
 *   the score total (for the score index);
 * - the block is the lead state, profile and timeline, deflated against DICTIONARY (Lua cannot
 *   inflate: scripts keep it as it is);
 * - the tail is the lines appended since the block was written, each ending in `\n`: a timeline
 *   line (timeline-line.ts), `\x03[field, at, value]` a profile change, `\x04[fetchedAt, {field:
 *   value}]` a profile read from the CRM. The next rewrite packs them into the block.
 *
 * A profile change's "newer wins" is decided here, at read: each field keeps the time it was true.
 * Before this key a lead had three: its state (this key, JSON), its timeline (a string of lines, or a
 * sorted set before that) and its profile (a hash); they are read as they are and moved into this
 * key by the next write (write-lead.lua, one step).
 */
const MARK = 0x02;
const PROFILE_CHANGE = '\u0003';
const PROFILE_READ = '\u0004';

/**
 * Deflate's preset dictionary, the most frequent last: only what every install's records share, the
 * format's own structure, field names, and texts of the shipped default config (config/default.yaml:
 * its stages, rules and reasons), never the shape of one install's data (its event ids, delays or
 * values). Part of the format: changed in place before any release (no install holds a record
 * deflated against an earlier one); a change after a release needs a new header mark.
 */
const DICTIONARY = Buffer.from(
  [
    '"sql"',
    '"recycled"',
    '"disqualified"',
    '"customer"',
    '"opportunity"',
    '"salesqualifiedlead"',
    '"marketingqualifiedlead"',
    '"subscriber"',
    '@gmail.com',
    '"phone":"',
    '"company":"',
    '"city":"',
    '"website":"',
    'unsubscribed',
    'free-email',
    'student',
    'form-submission',
    'webinar-attended',
    'email-click',
    '× form_submission~l',
    '× webinar_attended~l',
    '× email_click~l',
    '~y~p"],["',
    '"],["demo-request",1,',
    '× demo_request~l',
    '"hf.~k.',
    '.mql",0,0,[',
    '"mql","open",0,1,["',
    ',"lead","open",0,1,[],0,0,0,[',
    '"],["pricing-page",1,',
    '× page_view (url contains \\"/pricing\\")~l',
    '"],["title-decision-maker",0,20,"Job title \\"',
    '"],["title-manager",0,10,"Job title \\"',
    '"],["company-size-mid-market",0,10,"Company size \\"',
    '"],["industry-target",0,10,"Industry \\"',
    '"],["country-served",0,5,"Country \\"',
    '\\"~m~r (~p)"',
    '"],["email-open",1,',
    '× email_open~l',
    '"],["page-view",1,',
    '× page_view~l',
    '~d~p"]]],1]\n',
    '[null,{},{}]\n',
    '{"email":"',
    '","firstName":"',
    '","lastName":"',
    '","jobTitle":"',
    '","industry":"',
    '","companySize":"',
    '","country":"',
    '","lifecycleStage":"',
    '"},{}]\n',
    '\t"campaign":"',
    '\t"form":"',
    '\t"url":"https://',
    '/pricing',
  ].join(''),
);

/** A profile field's value and when it was true (ms). */
export interface ProfileField {
  value: PropertyValue;
  at: number;
}

export interface LeadRecord {
  /** The lead state as LeadStore writes it (JSON text), null before its first write. */
  state: string | null;
  /** The state's score total as the score index counts it, '' when it has none. */
  total: string;
  /** When the profile was last read from the CRM; undefined: never. */
  fetchedAt: number | undefined;
  profile: Map<string, ProfileField>;
  /** Timeline lines (timeline-line.ts), in arrival order. */
  lines: string[];
}

/** A record as read, with what a rewrite compares to know nobody rewrote it since. */
export interface Held {
  record: LeadRecord;
  /** The generation and length read; or, for a key in an earlier format (or none), its value. */
  read: { generation: string; length: number } | { earlier: Buffer };
}

/** What a rewrite does to the lead's history hash in the same step. */
export interface HistoryChange {
  /** Buckets whose newest event is older than this are dropped. */
  dropBefore?: number;
  /** Buckets added to the held ones (counts summed). */
  add?: readonly HistoryBucket[];
}

const Header = z
  .string()
  .regex(/^\d+:[^:]*:\d+$/)
  .transform((h) => h.split(':') as [string, string, string]);
/** The profile in a block: [fetchedAt | null, field → value, field → time where not fetchedAt]. */
const StoredProfile = z.tuple([
  z.number().nullable(),
  z.record(z.string(), PropertyValue),
  z.record(z.string(), z.number()),
]);
const ProfileChangeLine = z.tuple([z.string(), z.number(), PropertyValue]);
const ProfileReadLine = z.tuple([z.number(), z.record(z.string(), PropertyValue)]);
/** The lead state of an earlier format, for its score total: a JSON array (total in the 10th) or object. */
const EarlierTotal = z.union([
  z.array(z.unknown()).transform((a) =>
    z
      .number()
      .optional()
      .parse(Array.isArray(a[9]) ? a[9][2] : undefined),
  ),
  z.object({ score: z.object({ total: z.number() }).optional() }).transform((o) => o.score?.total),
]);

export function emptyRecord(): LeadRecord {
  return { state: null, total: '', fetchedAt: undefined, profile: new Map(), lines: [] };
}

/** A profile change: the value is kept unless the field holds a newer one. */
function change(record: LeadRecord, field: string, at: number, value: PropertyValue): boolean {
  if (at <= (record.profile.get(field)?.at ?? -1)) return false;
  record.profile.set(field, { value, at });
  return true;
}

/** Values read from the CRM describe the record as of `fetchedAt`; newer changes still win. */
function applyRead(record: LeadRecord, fetchedAt: number, values: Profile): void {
  for (const [field, value] of Object.entries(values)) change(record, field, fetchedAt, value);
  record.fetchedAt = Math.max(record.fetchedAt ?? fetchedAt, fetchedAt);
}

export function profileOf(record: LeadRecord): Profile {
  return Object.fromEntries([...record.profile].map(([field, { value }]) => [field, value]));
}

/** Tail lines: a profile change, a profile read, or a timeline line. */
export const profileChangeLine = (field: string, at: number, value: PropertyValue) =>
  PROFILE_CHANGE + JSON.stringify([field, at, value]);
export const profileReadLine = (fetchedAt: number, values: Profile) =>
  PROFILE_READ + JSON.stringify([fetchedAt, values]);

function applyTail(record: LeadRecord, tail: string): void {
  for (const line of tail.split('\n')) {
    if (line === '') continue;
    if (line[0] === PROFILE_CHANGE) change(record, ...ProfileChangeLine.parse(JSON.parse(line.slice(1))));
    else if (line[0] === PROFILE_READ) applyRead(record, ...ProfileReadLine.parse(JSON.parse(line.slice(1))));
    else record.lines.push(line);
  }
}

export function decodeRecord(raw: Buffer): { record: LeadRecord; generation: string } {
  const end = raw.indexOf(0x0a);
  const [generation, total, blockLength] = Header.parse(raw.subarray(1, end).toString('latin1'));
  const blockEnd = end + 1 + Number(blockLength);
  const record = { ...emptyRecord(), total };
  if (blockEnd > end + 1) {
    const text = inflateRawSync(raw.subarray(end + 1, blockEnd), { dictionary: DICTIONARY }).toString('utf8');
    const stateEnd = text.indexOf('\n');
    // No newline after the profile when the timeline is empty.
    const next = text.indexOf('\n', stateEnd + 1);
    const profileEnd = next < 0 ? text.length : next;
    record.state = stateEnd > 0 ? text.slice(0, stateEnd) : null;
    const [fetchedAt, values, times] = StoredProfile.parse(JSON.parse(text.slice(stateEnd + 1, profileEnd)));
    record.fetchedAt = fetchedAt ?? undefined;
    for (const [field, value] of Object.entries(values))
      record.profile.set(field, { value, at: times[field] ?? fetchedAt ?? 0 });
    record.lines = text
      .slice(profileEnd + 1)
      .split('\n')
      .filter(Boolean);
  }
  applyTail(record, raw.subarray(blockEnd).toString('utf8'));
  return { record, generation };
}

/** The block: `<state>\n<profile>\n<line>\n<line>…`, deflated (no text in it holds a raw newline). */
export function encodeBlock(record: LeadRecord): Buffer {
  const values: Profile = {};
  const times: Record<string, number> = {};
  for (const [field, { value, at }] of record.profile) {
    values[field] = value;
    if (at !== record.fetchedAt) times[field] = at;
  }
  const profile = JSON.stringify([record.fetchedAt ?? null, values, times]);
  const text = [record.state ?? '', profile, ...record.lines].join('\n');
  return deflateRawSync(text, { dictionary: DICTIONARY, level: 9 });
}

/** The records of leads, read and rewritten as one key each. */
export class LeadRecords {
  constructor(
    private readonly redis: Scripted,
    private readonly k: Keys,
  ) {}

  async read(lead: LeadRef): Promise<Held> {
    return (await this.readMany([lead]))[0]!;
  }

  /** Many leads' records in one round trip (two for a lead still in the earlier formats). */
  async readMany(leads: readonly LeadRef[]): Promise<Held[]> {
    if (!leads.length) return [];
    const pipeline = this.redis.pipeline();
    for (const lead of leads)
      pipeline.getBuffer(this.k.leadState(lead)).type(this.k.timeline(lead)).hgetall(this.k.profile(lead));
    const rows = ((await pipeline.exec()) ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    return Promise.all(
      leads.map(async (lead, i) => {
        const raw = rows[i * 3] as Buffer | null;
        if (raw?.[0] === MARK) {
          const { record, generation } = decodeRecord(raw);
          return { record, read: { generation, length: raw.length } };
        }
        const record = await this.earlier(
          lead,
          raw,
          rows[i * 3 + 1] as string,
          rows[i * 3 + 2] as Record<string, string>,
        );
        return { record, read: { earlier: raw ?? Buffer.alloc(0) } };
      }),
    );
  }

  /**
   * Applies `edit` to the lead's record and writes it back with `history` in one step; read again and
   * edited again when another write rewrote the record in between (lines appended meanwhile stay).
   * `edit` answering null writes nothing: false. `held`: the record as the caller already read it,
   * edited first instead of reading it again.
   */
  async rewrite(
    lead: LeadRef,
    edit: (record: LeadRecord) => LeadRecord | null,
    opts: { ttlMs: number; index?: boolean; history?: HistoryChange; held?: Held },
  ): Promise<boolean> {
    const buckets = (opts.history?.add ?? []).flatMap((b) => [`${b.rule}|${b.day}`, b.n, b.w, b.lo, b.hi]);
    for (let held = opts.held; ; held = undefined) {
      const { record, read } = held ?? (await this.read(lead));
      const next = edit(record);
      if (next === null) return false;
      const written = await this.redis.leadflowWriteLead(
        ...this.scriptKeys(lead),
        'generation' in read ? read.generation : '',
        'generation' in read ? read.length : 0,
        'earlier' in read ? read.earlier : '',
        next.total,
        encodeBlock(next),
        opts.ttlMs,
        leadKey(lead),
        opts.index ? '1' : '0',
        opts.history?.dropBefore ?? '',
        ...buckets,
      );
      if (written === 1) return true;
    }
  }

  /**
   * Runs an append script (`append`); a lead still in the earlier formats (the script answers -1)
   * is moved into its record first.
   */
  async append(lead: LeadRef, ttlMs: number, append: () => Promise<number>): Promise<number> {
    for (;;) {
      const result = await append();
      if (result !== -1) return result;
      await this.rewrite(lead, (record) => record, { ttlMs });
    }
  }

  /** The keys the rewrite and forget scripts name: record, score index and counts, earlier timeline and profile, history. */
  private scriptKeys(lead: LeadRef): [string, string, string, string, string, string] {
    return [
      this.k.leadState(lead),
      this.k.scores,
      this.k.scoreCounts,
      this.k.timeline(lead),
      this.k.profile(lead),
      this.k.history(lead),
    ];
  }

  /** The keys an append script names after its own: the record, then the earlier timeline and profile. */
  appendKeys(lead: LeadRef): [string, string, string] {
    return [this.k.leadState(lead), this.k.timeline(lead), this.k.profile(lead)];
  }

  /** Drops the lead's record (state, profile, timeline), history and place in the score index. */
  async forget(lead: LeadRef): Promise<void> {
    await this.redis.leadflowForgetLead(...this.scriptKeys(lead), leadKey(lead));
  }

  /** A lead in the formats before its record: its state, timeline (lines or a sorted set) and profile hash. */
  private async earlier(
    lead: LeadRef,
    raw: Buffer | null,
    timelineType: string,
    hash: Record<string, string>,
  ): Promise<LeadRecord> {
    const record = emptyRecord();
    if (raw) {
      record.state = raw.toString('utf8');
      const total = EarlierTotal.parse(JSON.parse(record.state));
      record.total = total === undefined ? '' : String(total);
    }
    const key = this.k.timeline(lead);
    if (timelineType === 'string')
      record.lines = ((await this.redis.get(key)) ?? '').split('\n').filter(Boolean);
    if (timelineType === 'zset')
      record.lines = (await this.redis.zrange(key, '0', '-1')).map((m) =>
        encodeLine(LegacyEntry.parse(JSON.parse(m))),
      );
    // The hash: `v:<field>` (JSON), `t:<field>` (ms) unless it is `fetchedAt`.
    record.fetchedAt = hash.fetchedAt === undefined ? undefined : Number(hash.fetchedAt);
    for (const [name, value] of Object.entries(hash)) {
      if (!name.startsWith('v:')) continue;
      const field = name.slice(2);
      const at = hash[`t:${field}`];
      record.profile.set(field, {
        value: PropertyValue.parse(JSON.parse(value)),
        at: at !== undefined ? Number(at) : (record.fetchedAt ?? 0),
      });
    }
    return record;
  }
}
