import type { Config } from '../config/schema.js';
import type { Crm } from '../domain/index.js';
import { keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { withScripts, type Scripted } from './scripts.js';

/*
 * Whether a CRM answers at all, shared by every process through Redis. The rule: UNREACHABLE_AFTER_MISSES
 * calls in a row (a batch request counting once per lead it carries, and at least two requests: one
 * lost answer is no outage) that the CRM answered nothing to (timed out, connection refused or reset), across
 * all jobs and workers, none answered in between, within MISS_WINDOW_MS. One lead whose request
 * times out while other calls are answered never makes it; a 5xx is an answer. From then on one call
 * per probe interval goes out (the probe), the others are refused unsent, and the first answer ends it.
 * The same holds while the CRM refuses our credentials (a 401 after a token refresh): one call per
 * credentials probe interval, until one is answered with anything but a refusal.
 */

/** Calls in a row the CRM answered nothing to, none answered in between, before it counts as unreachable. */
export const UNREACHABLE_AFTER_MISSES = 3;
/** ...within this long of the first of them. */
export const MISS_WINDOW_MS = 60_000;
/**
 * The probe interval is the CRM's call timeout plus this: every call sent before the outage was
 * noticed has timed out before the next probe can get an answer, so none of them counts after it.
 */
export const PROBE_MARGIN_MS = 1_000;
/** Without an answer to wake them, held jobs come back after this many probe intervals. */
export const HOLD_PROBES = 10;
/** Held jobs are remembered this long for their wake-up (a job is held at most HOLD_PROBES intervals). */
const WAITING_RETAIN_MS = 3_600_000;

/**
 * A call may go: `fresh` with no misses to end, `resets` ends a run of misses, `probe` may end an
 * outage, `credentials` may show the CRM takes our credentials again.
 */
export type Admission = 'fresh' | 'resets' | 'probe' | 'credentials';

/** A call refused unsent: the CRM counts as unreachable and this interval's probe is out. */
export class CrmUnreachableError extends Error {
  constructor(readonly holdMs: number) {
    super(
      `not sent: the CRM answered none of the last calls (held ${holdMs} ms unless a probe gets an answer)`,
    );
    this.name = 'CrmUnreachableError';
  }
}

/**
 * A call refused unsent: the CRM refused our credentials after a token refresh, and this interval's
 * probe is out. Only this CRM's calls wait; other CRMs' go on.
 */
export class CrmCredentialsHeldError extends Error {
  constructor(readonly holdMs: number) {
    super(`not sent: the CRM refuses our credentials (held ${holdMs} ms unless a probe is accepted)`);
    this.name = 'CrmCredentialsHeldError';
  }
}

/** A job held for the CRM, to run at once when it answers. */
export interface HeldJob {
  queue: string;
  id: string;
}

export class CrmReachability {
  /** One probe per this long while the CRM is unreachable. */
  readonly probeMs: number;
  /** How long the CRM counts as unreachable after its last miss, unless an answer ends it first. */
  readonly holdMs: number;
  private readonly redis: Scripted;
  private readonly down: string;
  private readonly probe: string;
  private readonly misses: string;
  private readonly waiting: string;
  private readonly credentials: string;
  private readonly credentialsProbe: string;

  /** `credentialsProbeMs`: one call per this long while the CRM refuses our credentials. */
  constructor(
    redis: RedisClient,
    prefix: string,
    crm: Crm,
    timeoutMs: number,
    readonly credentialsProbeMs = 60_000,
  ) {
    this.redis = withScripts(redis);
    const k = keys(prefix);
    this.down = k.reachability(crm, 'down');
    this.probe = k.reachability(crm, 'probe');
    this.misses = k.reachability(crm, 'misses');
    this.waiting = k.reachability(crm, 'waiting');
    this.credentials = k.authOutage(crm);
    this.credentialsProbe = k.reachability(crm, 'credentials-probe');
    this.probeMs = timeoutMs + PROBE_MARGIN_MS;
    this.holdMs = HOLD_PROBES * this.probeMs;
  }

  /**
   * Before a call: how it may go. Throws CrmUnreachableError or CrmCredentialsHeldError when it must
   * not. `afterRefresh`: the call retries one refused with a token just refreshed, and goes.
   */
  async admit(afterRefresh = false): Promise<Admission> {
    const [r, ms] = await this.redis.leadflowReachAdmit(
      this.down,
      this.probe,
      this.misses,
      this.credentials,
      this.credentialsProbe,
      this.probeMs,
      this.credentialsProbeMs,
      afterRefresh ? '1' : '0',
    );
    if (r === -1) throw new CrmUnreachableError(ms);
    if (r === -2) throw new CrmCredentialsHeldError(ms);
    return r === 3 ? 'credentials' : r === 2 ? 'probe' : r === 1 ? 'resets' : 'fresh';
  }

  /**
   * The CRM refused our credentials after a token refresh: from now on one call per credentials
   * probe interval goes to it, the first after one interval. `forMs`: how long that lasts unless a
   * refused probe renews it.
   */
  async credentialsRefused(reason: string, forMs: number): Promise<void> {
    await this.redis
      .multi()
      .set(this.credentials, reason, 'PX', forMs)
      .set(this.credentialsProbe, '1', 'PX', this.credentialsProbeMs)
      .exec();
  }

  /** A probe's answer was no refusal of our credentials: calls go again. */
  async credentialsAccepted(): Promise<void> {
    await this.redis.del(this.credentials, this.credentialsProbe);
  }

  /** Why the CRM refuses our credentials, or null while it does not. */
  credentialsReason(): Promise<string | null> {
    return this.redis.get(this.credentials);
  }

  /** How long until the next credentials probe may go out (0: now). */
  async untilCredentialsProbeMs(): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.credentialsProbe));
  }

  /** The CRM answered (any status). True when this answer ended an outage. */
  async answered(): Promise<boolean> {
    return (await this.redis.leadflowReachAnswered(this.misses, this.down, this.probe)) === 1;
  }

  /**
   * The CRM answered nothing to a call carrying `leads` leads' requests (a batch request counts as
   * that many calls: a burst's few shared requests must not hide an outage): how long it now counts
   * as unreachable, or undefined if it does not.
   */
  async missed(reason: string, leads = 1): Promise<number | undefined> {
    const holdMs = await this.redis.leadflowReachMissed(
      this.misses,
      this.down,
      UNREACHABLE_AFTER_MISSES,
      MISS_WINDOW_MS,
      this.holdMs,
      reason,
      Math.max(1, Math.round(leads)),
    );
    return holdMs < 0 ? undefined : holdMs;
  }

  /** Why the CRM counts as unreachable, or null while it does not. */
  reason(): Promise<string | null> {
    return this.redis.get(this.down);
  }

  /** How long until the next probe may go out (0: now). */
  async untilProbeMs(): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.probe));
  }

  /** Remembers a job waiting for the CRM (in the delayed set), to run at once when it answers. */
  async hold(job: HeldJob, now: number): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.waiting, now, `${job.queue}:${job.id}`)
      .zremrangebyscore(this.waiting, '-inf', now - WAITING_RETAIN_MS)
      .pexpire(this.waiting, WAITING_RETAIN_MS)
      .exec();
  }

  /** Takes up to `max` of the jobs waiting for the CRM, oldest first. */
  async takeHeld(max: number): Promise<HeldJob[]> {
    const members = await this.redis.zpopmin(this.waiting, max);
    const held: HeldJob[] = [];
    // ZPOPMIN answers member, score, member, score…
    for (let i = 0; i < members.length; i += 2) {
      const member = members[i]!;
      const at = member.indexOf(':');
      held.push({ queue: member.slice(0, at), id: member.slice(at + 1) });
    }
    return held;
  }
}

/**
 * The CRM's reachability as every process sees it, probed once per its call timeout (plus a margin),
 * and once per `pipeline.authProbeMs` while it refuses our credentials.
 */
export function reachabilityFor(redis: RedisClient, config: Config, crm: Crm): CrmReachability {
  return new CrmReachability(
    redis,
    config.redis.prefix,
    crm,
    config[crm].timeoutMs,
    config.pipeline.authProbeMs,
  );
}
