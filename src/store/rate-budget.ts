import { randomUUID } from 'node:crypto';
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
/** How long a request counts as in flight unless told otherwise: a process that died never releases. */
export const DEFAULT_LEASE_MS = 60_000;
/** How often a reservation asks again while the window is full of requests still in flight. */
const POLL_MS = 50;

/** One request's place in the budget: release it when its answer came (or it was aborted). */
export interface Permit {
  /** How long the request waited for its turn (ms). */
  waitedMs: number;
  /**
   * Never rejects: a release Redis did not take leaves the request counted as in flight until its
   * lease ends (safe, only slower), and must not fail a CRM call that succeeded.
   */
  release(): Promise<void>;
}

/** The budget is paused after a 429 (this CRM account's, not another's): nothing is sent for `waitMs`. */
export class BudgetPausedError extends Error {
  constructor(readonly waitMs: number) {
    super(`rate budget paused after a 429 for ${waitMs} ms more`);
    this.name = 'BudgetPausedError';
  }
}

/**
 * One shared request budget per CRM account, used by every worker and poller process. Pace calls
 * with `take()`: it resolves when the call may go out, so we use the whole limit and stay under it
 * instead of discovering it through 429s. The sliding window itself is lua/budget-*.lua, on Redis'
 * clock: reservations are paced in arrival order, and a request counts from when it is sent until
 * its answer is in, so one sent late (CPU load) cannot push a window over the CRM's limit.
 */
export class RateBudget {
  private readonly redis: Scripted;
  private readonly sent: string;
  private readonly paused: string;

  constructor(
    redis: RedisClient,
    private readonly key: string,
    private readonly limits: BudgetLimits,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.redis = withScripts(redis);
    this.sent = `${key}:sent`;
    this.paused = `${key}:pause`;
  }

  /**
   * Reserves one request and resolves once it may be sent, marked as sent. `leaseMs` bounds how long
   * it counts as in flight if never released: longer than the request may take. Throws
   * BudgetPausedError while the budget is paused.
   */
  async take(leaseMs = DEFAULT_LEASE_MS): Promise<Permit> {
    const { max, intervalMs } = this.limits;
    const id = randomUUID();
    let waitMs = await this.redis.leadflowBudgetReserve(
      this.key,
      this.sent,
      this.paused,
      max,
      intervalMs + BUDGET_SAFETY_MS,
      intervalMs,
      id,
      leaseMs,
      POLL_MS,
    );
    let waitedMs = 0;
    while (waitMs > 0) {
      await this.sleep(waitMs);
      waitedMs += waitMs;
      waitMs = await this.redis.leadflowBudgetConfirm(
        this.sent,
        this.paused,
        max,
        intervalMs,
        id,
        leaseMs,
        POLL_MS,
      );
    }
    if (waitMs < 0) throw new BudgetPausedError(-waitMs);
    const release = () =>
      this.redis.leadflowBudgetRelease(this.sent, id).then(
        () => undefined,
        () => undefined,
      );
    return { waitedMs, release };
  }

  /** After a 429: every process's requests through this budget wait `ms` (a longer pause stays). */
  async pause(ms: number): Promise<void> {
    await this.redis.leadflowBudgetPause(this.paused, ms);
  }

  /** Feeds the CRM's `Remaining` header back in. */
  async observe(remaining: number): Promise<void> {
    await this.redis.leadflowBudgetObserve(this.key, this.limits.max, this.limits.intervalMs, remaining);
  }
}
