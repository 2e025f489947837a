import type { Client } from '@hubspot/api-client';
import type { HubSpotFields } from '../../src/config/schema.js';
import type { Profile } from '../../src/domain/index.js';
import type { RateBudget } from '../../src/store/rate-budget.js';
import type { CrmReachability } from '../../src/store/reachability.js';
import { crmCaller, type CallFn, type CallPolicy, type CrmCall } from '../call.js';
import { isCrmError, type CrmFailure } from '../errors.js';
import { Slots } from '../slots.js';
import type { CrmCallObservation } from '../types.js';
import { AccountDetails, nextMidnight } from './account.js';
import { isSecondlyLimit, toCrmFailure } from './errors.js';
import { abortableBy } from './transport.js';
import type { HubSpotOAuth } from './oauth.js';

export interface HubSpotConnectorOptions {
  client: Client;
  fields: HubSpotFields;
  /** Longest a single call may take before it counts as a network failure. */
  timeoutMs?: number;
  /** The portal's shared request budget; every call waits for its turn. */
  budget?: RateBudget;
  /** Whether the portal answers at all, shared by every process (connectors/call.ts). */
  reachability?: CrmReachability;
  /** Told about every call, for metrics. */
  onCall?: (call: CrmCallObservation) => void;
  /** OAuth apps: where access tokens come from (private apps pass a fixed token to the client). */
  oauth?: HubSpotOAuth;
  /** HubSpot's separate search limit (5 per second per portal), shared like `budget`. */
  searchBudget?: RateBudget;
  /**
   * `pipeline.batching`: handoffs of many leads share batch requests while there is a backlog
   * (batches.ts); off unless given, every call the lead's own.
   */
  batching?: boolean;
}

/**
 * SDK 13.x applies the client's own middleware (its user agent, our keep-alive agent and rate-limit
 * observer) only to calls that pass options of their own (HubSpot/hubspot-api-nodejs#686), so every
 * call passes these. Typed per API module in the SDK, hence the cast.
 */
const SDK_CALL_OPTIONS = { middleware: [], middlewareMergeStrategy: 'append' } as never;

const ACCOUNT_DETAILS = 'account.details';

/**
 * Calls in flight per process. The SDK's node-fetch 2.7 reports a false "Premature close" on a
 * chunked answer (HubSpot's are) when a request waits in the agent's queue for a kept-alive socket
 * (node-fetch/node-fetch#1767): the rest wait here instead, and the agent has no socket limit of
 * its own, so it never queues.
 */
export const MAX_IN_FLIGHT = 64;

/**
 * How the HubSpot adapter talks to the portal: the SDK client, the shared call wrapper with HubSpot's
 * own hooks (OAuth refresh, daily reset), and the field mapping every read applies. The reads
 * (reads.ts), stages (stages.ts), dispositions (dispositions.ts) and the connector (connector.ts) build
 * on it, in that order.
 */
export abstract class HubSpotApi {
  protected readonly sdk = SDK_CALL_OPTIONS;
  protected readonly client: Client;
  protected readonly fields: HubSpotFields;
  protected readonly searchBudget: RateBudget | undefined;
  private readonly oauth: HubSpotOAuth | undefined;
  private readonly callOnce: CrmCall;
  private readonly callAfterRefresh: CrmCall;
  private details: Promise<AccountDetails> | undefined;

  constructor(opts: HubSpotConnectorOptions) {
    this.client = opts.client;
    this.fields = opts.fields;
    this.oauth = opts.oauth;
    this.searchBudget = opts.searchBudget;
    const policy: CallPolicy = {
      crm: 'hubspot',
      timeoutMs: opts.timeoutMs ?? 10_000,
      budget: opts.budget,
      reachability: opts.reachability,
      onCall: opts.onCall,
      toFailure: toCrmFailure,
      slots: new Slots(MAX_IN_FLIGHT),
      endpointLimit: isSecondlyLimit,
      refine: (failure, endpoint) => this.addDailyReset(failure, endpoint),
    };
    // The call's signal reaches the SDK's requests through the agent (transport.ts).
    const abortable =
      (caller: CrmCall): CrmCall =>
      (endpoint, what, fn, alsoBudget, leads) =>
        caller(endpoint, what, (signal) => abortableBy(signal, () => fn(signal)), alsoBudget, leads);
    this.callOnce = abortable(crmCaller(policy));
    // A call refused with a token since refreshed goes once more even while credentials count as refused.
    this.callAfterRefresh = abortable(crmCaller({ ...policy, afterRefresh: true }));
  }

  /**
   * Every SDK call goes through here (connectors/call.ts). With OAuth, a 401 means the token died
   * early: it is refreshed and the call made once more.
   */
  protected async call<T>(
    endpoint: string,
    what: string,
    fn: CallFn<T>,
    alsoBudget?: RateBudget,
    leads?: number,
  ): Promise<T> {
    if (!this.oauth) return this.callOnce(endpoint, what, fn, alsoBudget, leads);
    const token = await this.oauth.token();
    this.client.setAccessToken(token);
    try {
      return await this.callOnce(endpoint, what, fn, alsoBudget, leads);
    } catch (err) {
      if (!(isCrmError(err) && err.failure.status === 401)) throw err;
      await this.oauth.invalidate(token);
      this.client.setAccessToken(await this.oauth.token());
      return this.callAfterRefresh(endpoint, what, fn, alsoBudget, leads);
    }
  }

  /** The queue pauses until the daily limit resets; the account-info read itself must not recurse. */
  private async addDailyReset(failure: CrmFailure, endpoint: string): Promise<void> {
    if (failure.policy?.toUpperCase() === 'DAILY' && endpoint !== ACCOUNT_DETAILS)
      failure.resetAt = await this.dailyResetAt();
  }

  /** Endpoints the SDK has no typed API for, through its generic request. */
  protected callJson(
    endpoint: string,
    what: string,
    path: string,
    method: 'GET' | 'POST' = 'GET',
  ): Promise<unknown> {
    return this.call(endpoint, what, async (signal) => {
      // The SDK's generic request takes neither agent nor signal: fetch, with the client's base and token.
      const { basePath = 'https://api.hubapi.com', accessToken } = this.client.config;
      const res = await fetch(`${basePath}${path}`, {
        method,
        headers: { authorization: `Bearer ${accessToken ?? ''}`, accept: 'application/json' },
        signal,
      });
      // Shaped like the SDK's ApiException, body included: it carries errorType, policyName, message.
      if (!res.ok) {
        const body = await res.text();
        throw Object.assign(new Error(body), { code: res.status, headers: headersOf(res), body });
      }
      const answer: unknown = await res.json();
      return answer;
    });
  }

  /**
   * When the portal's daily limit resets: midnight in the account's time zone (not UTC). Undefined when
   * the zone cannot be read (the queue then probes again later instead of guessing).
   */
  private async dailyResetAt(): Promise<number | undefined> {
    try {
      return nextMidnight(await this.accountTimeZone(), Date.now());
    } catch {
      return undefined;
    }
  }

  /** The portal's time zone. */
  private async accountTimeZone(): Promise<string> {
    return (await this.accountDetails()).timeZone;
  }

  /** The portal's details, read once per process: account settings that hardly ever change. */
  protected accountDetails(): Promise<AccountDetails> {
    if (!this.details) {
      this.details = this.callJson(ACCOUNT_DETAILS, 'read account details', '/account-info/v3/details').then(
        (body) => AccountDetails.parse(body),
      );
      // A failed read must not be cached.
      this.details.catch(() => (this.details = undefined));
    }
    return this.details;
  }

  protected profileProperties(): string[] {
    return [...Object.values(this.fields.profile), this.fields.lifecycleStage];
  }

  protected toProfile(properties: Record<string, string | null>): Profile {
    const profile: Profile = {};
    for (const [field, property] of Object.entries(this.fields.profile)) {
      const value = properties[property];
      if (value !== undefined && value !== null && value !== '') profile[field] = value;
    }
    const stage = properties[this.fields.lifecycleStage];
    if (stage) profile.lifecycleStage = stage;
    return profile;
  }
}

function headersOf(res: {
  headers: { forEach(fn: (value: string, name: string) => void): void };
}): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => (out[name] = value));
  return out;
}

/** HubSpot datetime properties come as ISO strings or epoch milliseconds. */
export function toMillis(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const at = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return Number.isFinite(at) ? at : undefined;
}
