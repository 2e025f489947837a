import type { RedisClient } from './redis.js';
import { withScripts, type Scripted } from './scripts.js';

/**
 * A lock one process holds at a time, under a token of its own, that lapses unless renewed. Writes
 * made through it are fenced: once another process holds the lease, they change nothing.
 */
export class Lease {
  private readonly redis: Scripted;

  constructor(
    redis: RedisClient,
    private readonly key: string,
    private readonly token: string,
  ) {
    this.redis = withScripts(redis);
  }

  /** Takes the lease if nobody holds it. */
  async acquire(ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key, this.token, 'PX', ttlMs, 'NX')) !== null;
  }

  /** Extends the lease; false when it is no longer ours. */
  async renew(ttlMs: number): Promise<boolean> {
    return (await this.redis.leadflowLeaseRenew(this.key, this.token, ttlMs)) === 1;
  }

  /** Frees the lease if it is still ours. */
  async release(): Promise<void> {
    await this.redis.leadflowLeaseRelease(this.key, this.token);
  }

  /** Sets and deletes fields of a hash while the lease is ours; false (nothing written) otherwise. */
  async writeHash(hash: string, set: Record<string, number>, del: readonly string[] = []): Promise<boolean> {
    const pairs = Object.entries(set).flat();
    const written = await this.redis.leadflowLeaseWrite(
      this.key,
      hash,
      this.token,
      pairs.length,
      ...pairs,
      ...del,
    );
    return written === 1;
  }
}
