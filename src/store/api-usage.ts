import type { RedisClient } from './redis.js';
import { z } from 'zod';
import type { Keys } from './keys.js';

export interface Usage {
  used: number;
  max: number;
  /** When the CRM reported it (ms). */
  at: number;
}

const Stored = z.object({ used: z.coerce.number(), max: z.coerce.number(), at: z.coerce.number() });

/**
 * A CRM org's daily API usage as its answers report it (Salesforce's `Sforce-Limit-Info`), shared
 * by every process so pollers can slow down before the org runs out.
 */
export class ApiUsage {
  constructor(
    private readonly redis: RedisClient,
    private readonly k: Keys,
    private readonly crm: string,
  ) {}

  async record(used: number, max: number, at: number): Promise<void> {
    await this.redis.hset(this.k.apiUsage(this.crm), { used, max, at });
  }

  async get(): Promise<Usage | null> {
    const parsed = Stored.safeParse(await this.redis.hgetall(this.k.apiUsage(this.crm)));
    return parsed.success && parsed.data.max > 0 ? parsed.data : null;
  }
}

/** Pure: the share of the daily allocation used, 0–1 (0 when unknown). */
export function usedShare(usage: Usage | null): number {
  return usage ? Math.min(1, usage.used / usage.max) : 0;
}
