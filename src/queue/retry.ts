import type { CrmFailure } from '../../connectors/errors.js';

/** What to do after a failed CRM call. */
export type RetryDecision =
  /**
   * The CRM refused for its rate limit: its budget pauses for `waitMs` (connectors/call.ts), and the
   * job runs again after it without spending an attempt.
   */
  | { action: 'pause'; waitMs: number; scope: 'interval' | 'daily'; reason: string }
  /** The budget was already paused (BUDGET_PAUSED): run the job again after `waitMs`, nothing spent. */
  | { action: 'defer'; waitMs: number; reason: string }
  /**
   * The CRM answers nothing (timeouts, connection failures across jobs, not one bad lead): wait for
   * it without spending an attempt, at most `waitMs`, and run at once when a probe gets an answer.
   */
  | { action: 'unreachable'; waitMs: number; reason: string }
  /** Retry with exponential backoff and jitter, spending an attempt. */
  | { action: 'backoff'; reason: string }
  /**
   * The credentials were refused after the connector's one token refresh: an outage of the CRM
   * account, not a bad lead. Its calls wait for a probe to be accepted (this CRM's only), without
   * spending an attempt; `waitMs` when the call was refused unsent (CRM_CREDENTIALS_HELD) for that long.
   */
  | { action: 'auth_outage'; reason: string; waitMs?: number }
  /** Redis is unreachable or out of memory: wait for it, then run the job again without spending an attempt. */
  | { action: 'infra'; reason: string }
  /** Never retry: dead-letter with the reason. */
  | { action: 'fail'; reason: string };

/** The code of a call refused before it was sent, because its CRM account's budget is paused after a 429. */
export const BUDGET_PAUSED = 'BUDGET_PAUSED';
/** The code of a call refused before it was sent, because the CRM answers nothing (its `unreachableForMs`). */
export const CRM_UNREACHABLE = 'CRM_UNREACHABLE';

/** The code of a call refused before it was sent, because its CRM refuses our credentials (its `retryAfterMs`). */
export const CRM_CREDENTIALS_HELD = 'CRM_CREDENTIALS_HELD';

/** Used when a 429 carries no wait: HubSpot's rolling window is 10 s. */
export const DEFAULT_INTERVAL_WAIT_MS = 10_000;
/**
 * A daily limit with no known reset (Salesforce's rolling 24 h allocation; a HubSpot portal whose time
 * zone could not be read) is probed again after this long.
 */
export const DEFAULT_DAILY_PROBE_MS = 15 * 60_000;

/**
 * Pure: decides what to do with a failure. A daily limit pauses until `f.resetAt` (HubSpot: midnight in
 * the portal's time zone, which the connector reads and passes in as data), else probes again later.
 */
export function classifyFailure(f: CrmFailure, now: number): RetryDecision {
  const reason = describe(f);
  // Never zero: a hold that just lapsed still waits a moment, not a hot loop.
  if (f.unreachableForMs !== undefined)
    return { action: 'unreachable', waitMs: Math.max(1, f.unreachableForMs), reason };
  if (f.network) return { action: 'backoff', reason };

  const code = f.code?.toUpperCase();
  const policy = f.policy?.toUpperCase();

  if (code === CRM_CREDENTIALS_HELD)
    return { action: 'auth_outage', reason, waitMs: Math.max(1, f.retryAfterMs ?? 1) };
  if (code === BUDGET_PAUSED)
    return { action: 'defer', waitMs: f.retryAfterMs ?? DEFAULT_INTERVAL_WAIT_MS, reason };
  if (f.status === 429 || code === 'RATE_LIMIT' || code === 'REQUEST_LIMIT_EXCEEDED') {
    if (policy === 'DAILY' || code === 'REQUEST_LIMIT_EXCEEDED') {
      // Never zero or negative: a reset that just passed still needs one more try, not a hot loop.
      const waitMs = f.resetAt !== undefined ? Math.max(1, f.resetAt - now) : DEFAULT_DAILY_PROBE_MS;
      return { action: 'pause', scope: 'daily', waitMs, reason };
    }
    return { action: 'pause', scope: 'interval', waitMs: f.retryAfterMs ?? DEFAULT_INTERVAL_WAIT_MS, reason };
  }
  if (code === 'UNABLE_TO_LOCK_ROW' || code === 'SERVER_UNAVAILABLE') return { action: 'backoff', reason };
  // Salesforce rolled this record back because another one in the same all-or-none request failed.
  if (code === 'PROCESSING_HALTED' || code === 'ALL_OR_NONE_OPERATION_ROLLED_BACK')
    return { action: 'backoff', reason };
  if (f.status === 401 || code === 'INVALID_SESSION_ID' || code === 'EXPIRED_AUTHENTICATION')
    return { action: 'auth_outage', reason };
  if (f.status === undefined) return { action: 'backoff', reason };
  if (f.status >= 500 || f.status === 408) return { action: 'backoff', reason };
  return { action: 'fail', reason };
}

/**
 * Redis refusing or losing commands, by the error's name or its text (Salesforce calls wrap a failed
 * rate-budget reservation in a CrmError whose message is Redis'): OOM under `noeviction`, a replica
 * or a loading server, a down cluster, a connection that closed or gave up.
 */
const REDIS_ERROR_NAMES = new Set(['MaxRetriesPerRequestError']);
const REDIS_ERROR_TEXT =
  /\bOOM command not allowed|^(LOADING|READONLY|MISCONF|CLUSTERDOWN|TRYAGAIN|MASTERDOWN) |Connection is closed\.|Stream isn't writeable|Reached the max retries per request limit/m;

/** Pure: the infrastructure decision for an error that is Redis', whatever carried it; else undefined. */
export function classifyInfra(err: unknown): RetryDecision | undefined {
  if (!(err instanceof Error)) return undefined;
  if (!REDIS_ERROR_NAMES.has(err.name) && !REDIS_ERROR_TEXT.test(err.message)) return undefined;
  return { action: 'infra', reason: `Redis: ${err.message}` };
}

function describe(f: CrmFailure): string {
  const parts = [f.crm, f.status, f.code, f.policy].filter((p) => p !== undefined && p !== '');
  return `${parts.join(' ')}: ${f.message}`;
}
