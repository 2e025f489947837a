import type { Redis } from 'ioredis';
import { z } from 'zod';
import { leadKey, type LeadRef, type Score, type Stage } from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

/** What we remember about a lead between recomputes. */
export const LeadState = z.object({
  stage: z.enum(['lead', 'mql', 'sql']).default('lead'),
  /** `recycled` and `disqualified` come from sales dispositions; a new handoff makes it `open` again. */
  status: z.enum(['open', 'recycled', 'disqualified']).default('open'),
  /** Bumped when a lead is recycled, so its next handoff gets a fresh id. */
  cycle: z.number().int().nonnegative().default(0),
  /** Hand-raise events already handed off, so a recompute never hands the same one off twice. */
  handledHandRaises: z.array(z.string()).default([]),
  score: z.custom<Score>().optional(),
  /** Set by a recycle: engagement before `at` counts × `factor`; no handoff before `eligibleAt`. */
  recycle: z.object({ at: z.number(), factor: z.number(), eligibleAt: z.number() }).optional(),
  /** After a recycle: false until the score has dropped under the MQL threshold minus the hysteresis. */
  armed: z.boolean().default(true),
  /** The latest handoff, for SLA checks and rep-action tracking. */
  handoffId: z.string().optional(),
  /** `handoffId:status:reason` of the last disposition applied, so it is applied once. */
  lastDisposition: z.string().optional(),
  /** Optimistic lock: every write must name the version it read. */
  version: z.number().int().nonnegative().default(0),
});
export type LeadState = z.infer<typeof LeadState>;

/** Another job changed the lead between our read and our write; the job is retried and reads again. */
export class StaleLeadStateError extends Error {
  override name = 'StaleLeadStateError';
}

export class LeadStore {
  private readonly redis: Scripted;

  constructor(
    redis: Redis,
    private readonly k: Keys,
  ) {
    this.redis = withScripts(redis);
  }

  async get(lead: LeadRef): Promise<LeadState> {
    const raw = await this.redis.get(this.k.leadState(lead));
    return LeadState.parse(raw ? JSON.parse(raw) : {});
  }

  /** Writes `state` if nobody wrote since it was read (its `version`); throws StaleLeadStateError otherwise. */
  async put(lead: LeadRef, state: LeadState): Promise<LeadState> {
    const next = { ...state, version: state.version + 1 };
    const ok = await this.redis.leadflowPutLead(
      this.k.leadState(lead),
      this.k.scores,
      state.version,
      JSON.stringify(next),
      state.score ? String(state.score.total) : '',
      leadKey(lead),
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

export type { Stage };
