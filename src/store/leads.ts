import { z } from 'zod';
import type { RedisClient } from './redis.js';
import { LeadState, leadKey, type LeadRef, type Score, type Stage } from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';
import { LeadRecords, type Held } from './lead-record.js';

/** Another job changed the lead between our read and our write; the job is retried and reads again. */
export class StaleLeadStateError extends Error {
  override name = 'StaleLeadStateError';
}

/**
 * A breakdown line as stored: [ruleId, 0 fit | 1 engagement + 2 if capped, points, reason as a
 * template (see compactText) of its rule id and points].
 */
const StoredLine = z.tuple([z.string(), z.number().int().min(0).max(3), z.number(), z.string()]);
/** As written before templates: [ruleId, 0 fit | 1 engagement, points, reason, 1 if capped]. */
const FullLine = z.tuple([
  z.string(),
  z.union([z.literal(0), z.literal(1)]),
  z.number(),
  z.string(),
  z.number(),
]);
/** [fit, engagement, total, computedAt, lines]: the breakdown without its event ids. */
const StoredScore = z.tuple([
  z.number(),
  z.number(),
  z.number(),
  z.number(),
  z.array(z.union([StoredLine, FullLine])),
]);
/**
 * A lead's state as stored: a JSON array, version first, so the key is a few hundred bytes; absent
 * parts are 0. [version, stage, status, cycle, armed, handledHandRaises, handoffId (a template of the
 * lead key), lastDisposition, recycle [at, factor, eligibleAt], score, TEMPLATES]. Written before
 * templates, it had no last element and held its texts as they are.
 */
const StateParts = [
  z.number().int().nonnegative(),
  LeadState.shape.stage,
  LeadState.shape.status,
  z.number().int().nonnegative(),
  z.union([z.literal(0), z.literal(1)]),
  z.array(z.string()),
  z.union([z.string(), z.literal(0)]),
  z.union([z.string(), z.literal(0)]),
  z.union([z.tuple([z.number(), z.number(), z.number()]), z.literal(0)]),
  z.union([StoredScore, z.literal(0)]),
] as const;
/** The last element of a state whose handoff id and reasons are templates. */
const TEMPLATES = 1;
const StoredState = z.union([z.tuple([...StateParts, z.literal(TEMPLATES)]), z.tuple(StateParts)]);
type StoredState = z.infer<typeof StoredState>;

/**
 * Texts that repeat what the line or lead already says, written as `~` and a letter: the rule id
 * (`~r`), the signed points (`~p`), the lead key (`~k`), and the words every engine reason uses; a
 * `~` of the text itself as `~~`. "Job title "CTO" matches title-decision-maker (+20)" is stored as
 * `Job title "CTO"~m~r (~p)`.
 */
const PHRASES: Record<string, string> = { m: ' matches ', l: ' in the last ', d: ' days: ', y: ' day: ' };

function compactText(text: string, own: Record<string, string>): string {
  const parts: Record<string, string> = { ...own, ...PHRASES };
  const codes = Object.keys(parts).filter((c) => parts[c] !== '');
  let out = '';
  for (let i = 0; i < text.length;) {
    if (text[i] === '~') {
      out += '~~';
      i++;
      continue;
    }
    const code = codes.find((c) => text.startsWith(parts[c]!, i));
    if (code === undefined) out += text[i++];
    else {
      out += `~${code}`;
      i += parts[code]!.length;
      // Each of the line's own texts once: the rule id stands for itself, not a longer id it starts.
      if (code in own) codes.splice(codes.indexOf(code), 1);
    }
  }
  return out;
}

function expandText(template: string, own: Record<string, string>): string {
  return template.replace(/~(.)/g, (_, code: string) => {
    const part = code === '~' ? '~' : (own[code] ?? PHRASES[code]);
    if (part === undefined) throw new Error(`lead state: unknown template code ~${code}`);
    return part;
  });
}

const signed = (points: number) => (points > 0 ? `+${points}` : String(points));

/** A lead state's version as stored (an array, version first; an object of the earlier format; none). */
function storedVersion(raw: string | null): number {
  if (raw === null) return 0;
  const held: unknown = JSON.parse(raw);
  return Array.isArray(held) ? StoredState.parse(held)[0] : LeadState.parse(held).version;
}

/** A lead's state, in its record (lead-record.ts) with its profile and timeline. */
export class LeadStore {
  private readonly redis: Scripted;
  private readonly records: LeadRecords;

  /** `ttlMs`: a lead's record expires this long after its last write (0: never, for read-only tools and tests). */
  constructor(
    redis: RedisClient,
    private readonly k: Keys,
    private readonly ttlMs = 0,
  ) {
    this.redis = withScripts(redis);
    this.records = new LeadRecords(this.redis, k);
  }

  async get(lead: LeadRef): Promise<LeadState> {
    return this.stateOf(lead, await this.records.read(lead));
  }

  /** The state in a record already read (TimelineStore.read). */
  stateOf(lead: LeadRef, { record }: Held): LeadState {
    const raw = record.state;
    // A state written before the compact encoding is a JSON object: read as it is, rewritten by the next put.
    if (!raw?.startsWith('[')) return LeadState.parse(raw ? JSON.parse(raw) : {});
    return decodeState(StoredState.parse(JSON.parse(raw)), leadKey(lead));
  }

  /**
   * Writes `state` if nobody wrote since it was read (its `version`); throws StaleLeadStateError
   * otherwise. `held`: the record `state` was read from, written over without reading it again.
   */
  async put(lead: LeadRef, state: LeadState, held?: Held): Promise<LeadState> {
    const next = { ...state, version: state.version + 1 };
    const json = JSON.stringify(encodeState(next, leadKey(lead)));
    const total = state.score ? String(state.score.total) : '';
    await this.records.rewrite(
      lead,
      (record) => {
        if (storedVersion(record.state) !== state.version)
          throw new StaleLeadStateError(`lead ${leadKey(lead)} changed while we worked on it`);
        return { ...record, state: json, total };
      },
      { ttlMs: this.ttlMs, index: true, ...(held ? { held } : {}) },
    );
    return next;
  }

  /** Drops a lead: its record (state, profile, timeline), history and place in the score index. */
  async forget(lead: LeadRef): Promise<void> {
    await this.records.forget(lead);
  }

  /** How many leads have a current score in [min, max]. */
  async countByScore(min: number, max: number): Promise<number> {
    const [counts, before] = await Promise.all([
      this.redis.hgetall(this.k.scoreCounts),
      this.redis.zcount(this.k.scores, min, max),
    ]);
    return Object.entries(counts).reduce(
      (n, [total, leads]) => (Number(total) >= min && Number(total) <= max ? n + Number(leads) : n),
      before,
    );
  }
}

function encodeState(s: LeadState, key: string): StoredState {
  return [
    s.version,
    s.stage,
    s.status,
    s.cycle,
    s.armed ? 1 : 0,
    s.handledHandRaises,
    s.handoffId !== undefined ? compactText(s.handoffId, { k: key }) : 0,
    s.lastDisposition ?? 0,
    s.recycle ? [s.recycle.at, s.recycle.factor, s.recycle.eligibleAt] : 0,
    s.score ? encodeScore(s.score) : 0,
    TEMPLATES,
  ];
}

function encodeScore(score: Score): z.infer<typeof StoredScore> {
  const lines = score.breakdown.map((l): z.infer<typeof StoredLine> => [
    l.ruleId,
    (l.kind === 'fit' ? 0 : 1) + (l.capped ? 2 : 0),
    l.points,
    compactText(l.reason, { r: l.ruleId, p: signed(l.points) }),
  ]);
  return [score.fit, score.engagement, score.total, score.computedAt, lines];
}

function decodeState(stored: StoredState, key: string): LeadState {
  const [
    version,
    stage,
    status,
    cycle,
    armed,
    handledHandRaises,
    storedHandoffId,
    lastDisposition,
    recycle,
    score,
  ] = stored;
  const templates = stored.length > 10;
  const handoffId =
    storedHandoffId !== 0 && templates ? expandText(storedHandoffId, { k: key }) : storedHandoffId;
  return {
    version,
    stage,
    status,
    cycle,
    armed: armed === 1,
    handledHandRaises,
    ...(handoffId !== 0 ? { handoffId } : {}),
    ...(lastDisposition !== 0 ? { lastDisposition } : {}),
    ...(recycle !== 0 ? { recycle: { at: recycle[0], factor: recycle[1], eligibleAt: recycle[2] } } : {}),
    ...(score !== 0 ? { score: decodeScore(score) } : {}),
  };
}

function decodeScore([fit, engagement, total, computedAt, lines]: z.infer<typeof StoredScore>): Score {
  return {
    fit,
    engagement,
    total,
    computedAt,
    breakdown: lines.map((line) => {
      const [ruleId, flags, points, text] = line;
      // A line of the format before templates has a fifth element, its capped flag.
      const full = line.length === 5;
      return {
        ruleId,
        kind: flags % 2 === 0 ? ('fit' as const) : ('engagement' as const),
        points,
        reason: full ? text : expandText(text, { r: ruleId, p: signed(points) }),
        eventIds: [],
        capped: full ? line[4] === 1 : flags >= 2,
      };
    }),
  };
}

export type { Stage };
