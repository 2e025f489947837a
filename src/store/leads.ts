import type { RedisClient } from './redis.js';
import { LeadState, leadKey, type LeadRef, type Stage } from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

/** Another job changed the lead between our read and our write; the job is retried and reads again. */
export class StaleLeadStateError extends Error {
  override name = 'StaleLeadStateError';
}

export class LeadStore {
  private readonly redis: Scripted;

  constructor(
    redis: RedisClient,
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
