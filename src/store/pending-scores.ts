import type { RedisClient } from './redis.js';
import { LeadRef } from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

export interface PendingScore {
  lead: LeadRef;
  version: string;
  field: string;
}

/**
 * Leads whose score changed and has not reached the CRM yet. Score-only updates are written in
 * batches from here (HubSpot takes 100 records a call), so a thousand rescored leads cost ten calls.
 */
export class PendingScores {
  private readonly redis: Scripted;

  constructor(
    redis: RedisClient,
    private readonly k: Keys,
  ) {
    this.redis = withScripts(redis);
  }

  /** Marks the lead pending; answers how many are pending now, this one included. */
  async add(lead: LeadRef, version: number): Promise<number> {
    const replies = await this.redis
      .multi()
      .hset(this.k.pendingScores, JSON.stringify(lead), String(version))
      .hlen(this.k.pendingScores)
      .exec();
    return Number(replies?.[1]?.[1] ?? 0);
  }

  /** Up to `count` pending entries (any order). */
  async take(count: number): Promise<PendingScore[]> {
    const flat = (await this.redis.hrandfield(this.k.pendingScores, count, 'WITHVALUES')) ?? [];
    const out: PendingScore[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = String(flat[i]);
      out.push({ field, lead: LeadRef.parse(JSON.parse(field)), version: String(flat[i + 1]) });
    }
    return out;
  }

  async clear(entries: PendingScore[]): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.leadflowClearPending(
      this.k.pendingScores,
      ...entries.flatMap((e) => [e.field, e.version]),
    );
  }

  async size(): Promise<number> {
    return this.redis.hlen(this.k.pendingScores);
  }
}
