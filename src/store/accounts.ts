import type { RedisClient } from './redis.js';
import { LeadRef, leadKey } from '../domain/index.js';
import type { Keys } from './keys.js';

/** The most recently seen leads kept per company domain: enough for a rep's account context. */
const KEPT_PER_DOMAIN = 20;

/**
 * Which leads we know per company email domain, newest first, for the account context of a handoff
 * (who else we know there). Bounded: the last `KEPT_PER_DOMAIN` leads per domain, and a domain no
 * lead was seen at for `ttlMs` expires.
 */
export class AccountIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly k: Keys,
    private readonly ttlMs: number,
  ) {}

  async remember(domain: string, lead: LeadRef, at: number): Promise<void> {
    const key = this.k.account(domain);
    await this.redis
      .multi()
      .zadd(key, at, JSON.stringify(lead))
      .zremrangebyrank(key, 0, -KEPT_PER_DOMAIN - 1)
      .pexpire(key, this.ttlMs)
      .exec();
  }

  /** The other leads of the domain, most recently seen first, and how many there are in all. */
  async others(domain: string, lead: LeadRef, limit: number): Promise<{ leads: LeadRef[]; total: number }> {
    const members = await this.redis.zrevrange(this.k.account(domain), 0, -1);
    const me = leadKey(lead);
    const leads = members.flatMap((m) => {
      const parsed = LeadRef.safeParse(JSON.parse(m));
      return parsed.success && leadKey(parsed.data) !== me ? [parsed.data] : [];
    });
    return { leads: leads.slice(0, limit), total: leads.length };
  }
}
