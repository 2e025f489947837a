import type { Crm } from '../src/domain/index.js';
import { BUDGET_PAUSED, CRM_CREDENTIALS_HELD, CRM_UNREACHABLE, classifyFailure } from '../src/queue/retry.js';
import { BudgetPausedError, type Permit, type RateBudget } from '../src/store/rate-budget.js';
import {
  CrmCredentialsHeldError,
  CrmUnreachableError,
  type Admission,
  type CrmReachability,
} from '../src/store/reachability.js';
import { CrmError, isCrmError, type CrmFailure } from './errors.js';
import type { Slots } from './slots.js';
import type { CrmCallObservation } from './types.js';

// The call wrapper every CRM adapter shares: paced by the account's rate budget, bounded in time,
// observed for metrics, and any failure turned into a CrmError by the CRM's own reading of it.

/** A call that took longer than allowed; every CRM's failure mapping counts it as a network failure. */
export class CallTimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * A request to the CRM. `signal` aborts when the call times out: pass it on where the client takes
 * one (HubSpot's generated clients take none: hubspot/transport.ts carries it to their agent;
 * jsforce aborts its own fetch on the `timeout` option). The race below settles the call on time
 * whatever the client does.
 */
export type CallFn<T> = (signal: AbortSignal) => PromiseLike<T>;

/**
 * One CRM call: `endpoint` labels the metric, `what` prefixes the error message. `alsoBudget` is a
 * second limit the endpoint counts against (HubSpot search: 5 a second), taken after the account's.
 * `leads`: how many leads' requests a batch call carries, so an unanswered one counts that often.
 */
export type CrmCall = <T>(
  endpoint: string,
  what: string,
  fn: CallFn<T>,
  alsoBudget?: RateBudget,
  leads?: number,
) => Promise<T>;

export interface CallPolicy {
  crm: Crm;
  timeoutMs: number;
  /** The account's shared request budget; every call waits for its turn. */
  budget?: RateBudget;
  /**
   * Whether the CRM answers at all, shared by every process: calls it answers nothing to count
   * towards an outage, during which one probe per interval goes out and the other calls are refused.
   */
  reachability?: CrmReachability;
  /** This caller retries calls refused with a token since refreshed: they go while credentials are refused. */
  afterRefresh?: boolean;
  /** Told about every call, for metrics. */
  onCall?: (call: CrmCallObservation) => void;
  /** The CRM's reading of whatever its client threw. */
  toFailure: (err: unknown) => CrmFailure;
  /** Before the budget wait and the request (e.g. a session being established); not bounded. */
  before?: () => Promise<void>;
  /** At most this many calls in flight in this process (the HTTP client's sockets); the rest wait their turn. */
  slots?: Slots;
  /** Whether a rate-limit failure is the endpoint's own limit (`alsoBudget`'s), not the account's. */
  endpointLimit?: (failure: CrmFailure) => boolean;
  /** Adds what the CRM knows about a failure before it is thrown (e.g. when a daily limit resets). */
  refine?: (failure: CrmFailure, endpoint: string) => Promise<void>;
}

/** Runs `fn` for at most `ms`: on time out its signal aborts and the call fails with CallTimeoutError. */
export async function withTimeout<T>(ms: number, fn: CallFn<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(controller.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const timeout = new CallTimeoutError(ms);
          controller.abort(timeout);
          reject(timeout);
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A request counts as in flight at most this much longer than its timeout, should it never be released. */
const LEASE_MARGIN_MS = 1_000;

/** The call wrapper for one connector: every request it makes goes through the function this returns. */
export function crmCaller(policy: CallPolicy): CrmCall {
  // Neither fails the call: a Redis that lost this only delays noticing an outage or its end.
  const answered = async (admitted: Admission | undefined, credentialsRefused = false) => {
    if (admitted === 'credentials' && !credentialsRefused)
      await policy.reachability?.credentialsAccepted().catch(() => undefined);
    if (admitted && admitted !== 'fresh') await policy.reachability?.answered().catch(() => false);
  };
  const missed = async (reason: string, leads: number | undefined) =>
    policy.reachability?.missed(`${policy.crm}: ${reason}`, leads).catch(() => undefined);
  return async <T>(
    endpoint: string,
    what: string,
    fn: CallFn<T>,
    alsoBudget?: RateBudget,
    leads?: number,
  ): Promise<T> => {
    let budgetWaitSeconds = 0;
    let started = performance.now();
    const observe = (outcome: string) =>
      policy.onCall?.({
        endpoint,
        outcome,
        seconds: (performance.now() - started) / 1000,
        budgetWaitSeconds,
      });
    let admitted: Admission | undefined;
    try {
      // First: a CRM that answers nothing gets no session, slot or budget turn taken for it.
      admitted = await policy.reachability?.admit(policy.afterRefresh);
      // Before the budget: the request goes out as soon as its turn comes.
      await policy.before?.();
      const leaseMs = policy.timeoutMs + LEASE_MARGIN_MS;
      const permits: Permit[] = [];
      let result: T;
      // A slot first, then the budget: a request whose turn came is sent at once.
      const releaseSlot = await policy.slots?.acquire();
      try {
        for (const budget of [policy.budget, alsoBudget])
          if (budget) permits.push(await budget.take(leaseMs));
        budgetWaitSeconds = permits.reduce((sum, p) => sum + p.waitedMs, 0) / 1000;
        started = performance.now();
        result = await withTimeout(policy.timeoutMs, fn);
      } finally {
        releaseSlot?.();
        await Promise.all(permits.map((p) => p.release()));
      }
      observe('ok');
      await answered(admitted);
      return result;
    } catch (err) {
      if (err instanceof CrmUnreachableError)
        throw new CrmError(
          {
            crm: policy.crm,
            code: CRM_UNREACHABLE,
            unreachableForMs: err.holdMs,
            message: `${what}: ${err.message}`,
          },
          { cause: err },
        );
      if (err instanceof CrmCredentialsHeldError)
        throw new CrmError(
          {
            crm: policy.crm,
            code: CRM_CREDENTIALS_HELD,
            retryAfterMs: err.holdMs,
            message: `${what}: ${err.message}`,
          },
          { cause: err },
        );
      // Refused before it was sent: another call of this account hit the limit.
      if (err instanceof BudgetPausedError)
        throw new CrmError(
          {
            crm: policy.crm,
            status: 429,
            code: BUDGET_PAUSED,
            retryAfterMs: err.waitMs,
            message: `${what}: ${err.message}`,
          },
          { cause: err },
        );
      const failure = isCrmError(err) ? { ...err.failure } : policy.toFailure(err);
      observe(failure.network ? 'network' : failure.status !== undefined ? String(failure.status) : 'error');
      if (failure.network) {
        const holdMs = await missed(failure.message, leads);
        if (holdMs !== undefined) failure.unreachableForMs = holdMs;
      }
      await policy.refine?.(failure, endpoint);
      // A rate limit holds up this account's budget only, in every process: other CRMs and accounts go on.
      const decision = classifyFailure(failure, Date.now());
      if (!failure.network && failure.status !== undefined)
        await answered(admitted, decision.action === 'auth_outage');
      const limited = alsoBudget && policy.endpointLimit?.(failure) ? alsoBudget : policy.budget;
      if (decision.action === 'pause') await limited?.pause(decision.waitMs).catch(() => undefined);
      throw new CrmError({ ...failure, message: `${what}: ${failure.message}` }, { cause: err });
    }
  };
}
