import type { Redis } from 'ioredis';
import { z } from 'zod';
import { leadKey, type LeadRef, type Score, type Stage } from '../domain/index.js';
import type { Keys } from './keys.js';

/** What we remember about a lead between recomputes. */
export const LeadState = z.object({
  stage: z.enum(['lead', 'mql', 'sql']).default('lead'),
  /** Bumped when a lead is recycled, so its next handoff gets a fresh id. */
  cycle: z.number().int().nonnegative().default(0),
  /** Hand-raise events already handed off, so a recompute never hands the same one off twice. */
  handledHandRaises: z.array(z.string()).default([]),
  score: z.custom<Score>().optional(),
});
export type LeadState = z.infer<typeof LeadState>;

export class LeadStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async get(lead: LeadRef): Promise<LeadState> {
    const raw = await this.redis.get(this.k.leadState(lead));
    return LeadState.parse(raw ? JSON.parse(raw) : {});
  }

  async put(lead: LeadRef, state: LeadState): Promise<void> {
    const tx = this.redis.multi().set(this.k.leadState(lead), JSON.stringify(state));
    if (state.score) tx.zadd(this.k.scores, state.score.total, leadKey(lead));
    await tx.exec();
  }

  /** How many leads have a current score in [min, max]. */
  async countByScore(min: number, max: number): Promise<number> {
    return this.redis.zcount(this.k.scores, min, max);
  }
}

export type { Stage };
