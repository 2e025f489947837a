import type { RedisClient } from './redis.js';
import { withScripts, type Scripted } from './scripts.js';

export interface BudgetLimits {
  /** Requests allowed per interval, e.g. HubSpot private apps: 100, 190 or 250 per 10 s. */
  max: number;
  intervalMs: number;
}

/**
 * Requests reserved for the same instant do not reach the CRM in the same instant (timers, sockets,
 * the network): spacing windows this much wider keeps the CRM's own count under its limit.
 */
export const BUDGET_SAFETY_MS = 100;

/**
 * One shared request budget per CRM account, used by every worker and poller process. Pace calls
 * with `take()`: it resolves when the call may go out, so we use the whole limit and stay under it
 * instead of discovering it through 429s. The sliding window itself is lua/budget-reserve.lua and
 * lua/budget-observe.lua, on Redis' clock.
 */
export class RateBudget {
  private readonly redis: Scripted;

  constructor(
    redis: RedisClient,
    private readonly key: string,
    private readonly limits: BudgetLimits,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.redis = withScripts(redis);
  }

  /** Reserves one request; resolves once it may be sent. Returns how long it waited. */
  async take(): Promise<number> {
    const waitMs = await this.redis.leadflowBudgetReserve(
      this.key,
      this.limits.max,
      this.limits.intervalMs + BUDGET_SAFETY_MS,
    );
    if (waitMs > 0) await this.sleep(waitMs);
    return waitMs;
  }

  /** Feeds the CRM's `Remaining` header back in. */
  async observe(remaining: number): Promise<void> {
    await this.redis.leadflowBudgetObserve(this.key, this.limits.max, this.limits.intervalMs, remaining);
  }
}
