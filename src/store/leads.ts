import { z } from 'zod';
import type { RedisClient } from './redis.js';
import { LeadState, leadKey, type LeadRef, type Score, type Stage } from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

/** Another job changed the lead between our read and our write; the job is retried and reads again. */
export class StaleLeadStateError extends Error {
  override name = 'StaleLeadStateError';
}

/** A breakdown line as stored: [ruleId, 0 fit | 1 engagement, points, reason, 1 if capped]. */
const StoredLine = z.tuple([
  z.string(),
  z.union([z.literal(0), z.literal(1)]),
  z.number(),
  z.string(),
  z.number(),
]);
/** [fit, engagement, total, computedAt, lines]: the breakdown without its event ids. */
const StoredScore = z.tuple([z.number(), z.number(), z.number(), z.number(), z.array(StoredLine)]);
/**
 * A lead's state as stored: a JSON array, version first, so the key is a few hundred bytes; absent
 * parts are 0. [version, stage, status, cycle, armed, handledHandRaises, handoffId, lastDisposition,
 * recycle [at, factor, eligibleAt], score].
 */
const StoredState = z.tuple([
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
]);

export class LeadStore {
  private readonly redis: Scripted;

  /** `ttlMs`: a lead's state expires this long after its last write (0: never, for read-only tools and tests). */
  constructor(
    redis: RedisClient,
    private readonly k: Keys,
    private readonly ttlMs = 0,
  ) {
    this.redis = withScripts(redis);
  }

  async get(lead: LeadRef): Promise<LeadState> {
    const raw = await this.redis.get(this.k.leadState(lead));
    // A state written before the compact encoding is a JSON object: read as it is, rewritten by the next put.
    if (!raw?.startsWith('[')) return LeadState.parse(raw ? JSON.parse(raw) : {});
    return decodeState(StoredState.parse(JSON.parse(raw)));
  }

  /** Writes `state` if nobody wrote since it was read (its `version`); throws StaleLeadStateError otherwise. */
  async put(lead: LeadRef, state: LeadState): Promise<LeadState> {
    const next = { ...state, version: state.version + 1 };
    const ok = await this.redis.leadflowPutLead(
      this.k.leadState(lead),
      this.k.scores,
      state.version,
      JSON.stringify(encodeState(next)),
      state.score ? String(state.score.total) : '',
      leadKey(lead),
      this.ttlMs,
    );
    if (!ok) throw new StaleLeadStateError(`lead ${leadKey(lead)} changed while we worked on it`);
    return next;
  }

  /** Drops a lead's state and its place in the score index. */
  async forget(lead: LeadRef): Promise<void> {
    await this.redis.multi().del(this.k.leadState(lead)).zrem(this.k.scores, leadKey(lead)).exec();
  }

  /** How many leads have a current score in [min, max]. */
  async countByScore(min: number, max: number): Promise<number> {
    return this.redis.zcount(this.k.scores, min, max);
  }
}

function encodeState(s: LeadState): z.infer<typeof StoredState> {
  return [
    s.version,
    s.stage,
    s.status,
    s.cycle,
    s.armed ? 1 : 0,
    s.handledHandRaises,
    s.handoffId ?? 0,
    s.lastDisposition ?? 0,
    s.recycle ? [s.recycle.at, s.recycle.factor, s.recycle.eligibleAt] : 0,
    s.score ? encodeScore(s.score) : 0,
  ];
}

function encodeScore(score: Score): z.infer<typeof StoredScore> {
  const lines = score.breakdown.map((l): z.infer<typeof StoredLine> => [
    l.ruleId,
    l.kind === 'fit' ? 0 : 1,
    l.points,
    l.reason,
    l.capped ? 1 : 0,
  ]);
  return [score.fit, score.engagement, score.total, score.computedAt, lines];
}

function decodeState([
  version,
  stage,
  status,
  cycle,
  armed,
  handledHandRaises,
  handoffId,
  lastDisposition,
  recycle,
  score,
]: z.infer<typeof StoredState>): LeadState {
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
    breakdown: lines.map(([ruleId, kind, points, reason, capped]) => ({
      ruleId,
      kind: kind === 0 ? 'fit' : 'engagement',
      points,
      reason,
      eventIds: [],
      capped: capped === 1,
    })),
  };
}

export type { Stage };
