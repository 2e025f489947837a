import type { RedisClient } from './redis.js';
import { LeadRef, leadKey } from '../domain/index.js';
import type { Keys } from './keys.js';

/**
 * The same person's records in the two CRMs of a cross-CRM setup (marketing in one, sales in the
 * other), linked both ways once matched by email: handoffs go to the sales record, and what sales
 * does there comes back to the marketing lead.
 */
export class CrmLinks {
  constructor(
    private readonly redis: RedisClient,
    private readonly k: Keys,
  ) {}

  async link(marketing: LeadRef, sales: LeadRef): Promise<void> {
    await this.redis.hset(this.k.crmLinks, {
      [`to:${leadKey(marketing)}`]: JSON.stringify(sales),
      [`from:${leadKey(sales)}`]: JSON.stringify(marketing),
    });
  }

  /**
   * Sales converted `from` (a Salesforce Lead, read-only since) into `to` (its Contact): later
   * handoff writes, SLA checks and dispositions for it go to `to`, and a marketing lead linked to
   * `from` is linked to `to` instead.
   */
  async converted(from: LeadRef, to: LeadRef): Promise<void> {
    const marketing = await this.marketingLeadOf(from);
    await this.redis.hset(this.k.crmLinks, {
      [`converted:${leadKey(from)}`]: JSON.stringify(to),
      ...(marketing && {
        [`to:${leadKey(marketing)}`]: JSON.stringify(to),
        [`from:${leadKey(to)}`]: JSON.stringify(marketing),
      }),
    });
  }

  /** What a sales record was converted into, if it was. */
  convertedTo(sales: LeadRef): Promise<LeadRef | null> {
    return this.read(`converted:${leadKey(sales)}`);
  }

  /** The sales CRM's record of a marketing lead, once matched. */
  salesRecordOf(marketing: LeadRef): Promise<LeadRef | null> {
    return this.read(`to:${leadKey(marketing)}`);
  }

  /** The marketing lead a sales CRM record was matched to, if any. */
  marketingLeadOf(sales: LeadRef): Promise<LeadRef | null> {
    return this.read(`from:${leadKey(sales)}`);
  }

  private async read(field: string): Promise<LeadRef | null> {
    const raw = await this.redis.hget(this.k.crmLinks, field);
    if (raw === null) return null;
    // Written by us, but Redis is a boundary: a damaged entry counts as no link.
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return null;
    }
    const parsed = LeadRef.safeParse(json);
    return parsed.success ? parsed.data : null;
  }
}
