import type { Redis } from 'ioredis';

// Sliding-window log with reservations, matching how HubSpot counts ("N requests in any rolling 10 s").
// The list holds the send times of the last `max` reservations (non-decreasing). A caller reserves the
// earliest time at which its request is the only one past the window's `max`, and is told how long to
// wait until then: one round trip per call, callers served in arrival order. Redis' clock is used so
// every process shares one notion of time.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const RESERVE = `${NOW}
local max = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local at = now
if redis.call('LLEN', KEYS[1]) >= max then
  at = math.max(now, tonumber(redis.call('LINDEX', KEYS[1], -max)) + interval)
end
redis.call('RPUSH', KEYS[1], at)
redis.call('LTRIM', KEYS[1], -max, -1)
redis.call('PEXPIRE', KEYS[1], at - now + interval)
return at - now`;

// The CRM's own count wins when it has fewer requests left than we think (other apps share the
// portal): the difference is recorded as requests sent now.
const OBSERVE = `${NOW}
local max = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local remaining = tonumber(ARGV[3])
local used = 0
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if tonumber(v) > now - interval then used = used + 1 end
end
local missing = math.min(max, max - used - remaining)
for _ = 1, missing do redis.call('RPUSH', KEYS[1], now) end
redis.call('LTRIM', KEYS[1], -max, -1)
redis.call('PEXPIRE', KEYS[1], interval)
return missing`;

type Scripted = Redis & {
  leadflowBudgetReserve(key: string, max: number, intervalMs: number): Promise<number>;
  leadflowBudgetObserve(key: string, max: number, intervalMs: number, remaining: number): Promise<number>;
};

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
 * instead of discovering it through 429s.
 */
export class RateBudget {
  private readonly redis: Scripted;

  constructor(
    redis: Redis,
    private readonly key: string,
    private readonly limits: BudgetLimits,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    const r = redis as Scripted;
    if (typeof r.leadflowBudgetReserve !== 'function') {
      redis.defineCommand('leadflowBudgetReserve', { numberOfKeys: 1, lua: RESERVE });
      redis.defineCommand('leadflowBudgetObserve', { numberOfKeys: 1, lua: OBSERVE });
    }
    this.redis = r;
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
