import type { RedisClient } from '../store/redis.js';
import { createHubSpotConnector, type HubSpotConnector } from '../../connectors/hubspot/index.js';
import { HubSpotOAuth } from '../../connectors/hubspot/oauth.js';
import { HubSpotPoller } from '../../connectors/hubspot/poller.js';
import { SalesforcePoller } from '../../connectors/salesforce/poller.js';
import {
  createSalesforceConnector,
  salesforceAuthFromEnv,
  type SalesforceConnector,
} from '../../connectors/salesforce/index.js';
import type { CrmCallObservation, CrmConnector, EngagementSource } from '../../connectors/types.js';
import type { Env } from '../config/env.js';
import type { Config } from '../config/schema.js';
import type { Crm } from '../domain/index.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ApiUsage } from '../store/api-usage.js';
import { keys } from '../store/keys.js';
import { RateBudget } from '../store/rate-budget.js';
import { reachabilityFor } from '../store/reachability.js';

/*
 * Which CRMs this deployment talks to follows from the credentials in the environment: a CRM without
 * them is not connected. Everything here builds clients; nothing calls a CRM.
 */

type HubSpotAuth = { accessToken: string } | { oauth: HubSpotOAuth };

/** A private app's token, or OAuth tokens refreshed through Redis; undefined when neither is set. */
function hubspotAuth(env: Env, redis: RedisClient | undefined, config: Config): HubSpotAuth | undefined {
  if (env.HUBSPOT_ACCESS_TOKEN) return { accessToken: env.HUBSPOT_ACCESS_TOKEN };
  if (!redis || !env.HUBSPOT_CLIENT_ID || !env.HUBSPOT_CLIENT_SECRET || !env.HUBSPOT_REFRESH_TOKEN)
    return undefined;
  return {
    oauth: new HubSpotOAuth(redis, keys(config.redis.prefix).oauth('hubspot'), {
      clientId: env.HUBSPOT_CLIENT_ID,
      clientSecret: env.HUBSPOT_CLIENT_SECRET,
      refreshToken: env.HUBSPOT_REFRESH_TOKEN,
      basePath: env.HUBSPOT_BASE_URL,
    }),
  };
}

/** What a worker shares across its CRM clients: rate budgets and usage live in Redis, calls are metered. */
export interface CrmDeps {
  /** Without it (one-shot commands): no shared rate budgets, no usage records, no HubSpot OAuth. */
  redis?: RedisClient;
  metrics?: Metrics;
  logger?: Logger;
  /** Overrides the configured per-call timeout (a readiness probe must answer quickly). */
  timeoutMs?: number;
}

function observeCalls(crm: Crm, metrics: Metrics | undefined) {
  if (!metrics) return undefined;
  return ({ endpoint, outcome, seconds, budgetWaitSeconds }: CrmCallObservation) => {
    metrics.crmRequests.inc({ crm, endpoint, outcome });
    // A call that went through: whatever outage the workers raised for these credentials is over.
    if (outcome === 'ok') metrics.crmAuthOutage.set({ crm }, 0);
    metrics.crmLatency.observe({ crm, endpoint }, seconds);
    if (budgetWaitSeconds > 0) metrics.budgetWaits.observe({ crm }, budgetWaitSeconds);
  };
}

/** The portal's request budgets, shared by every worker through Redis: all calls, and search (5/s). */
export function hubspotBudgets(
  redis: RedisClient,
  config: Config,
): { budget: RateBudget; searchBudget: RateBudget } {
  const k = keys(config.redis.prefix);
  return {
    budget: new RateBudget(redis, k.budget('hubspot'), {
      max: config.hubspot.requestsPer10s,
      intervalMs: 10_000,
    }),
    searchBudget: new RateBudget(redis, k.budget('hubspot-search'), {
      max: config.hubspot.searchPerSecond,
      intervalMs: 1_000,
    }),
  };
}

export function hubspotFromEnv(env: Env, config: Config, deps: CrmDeps): HubSpotConnector | undefined {
  const auth = hubspotAuth(env, deps.redis, config);
  if (!auth) return undefined;
  const { redis } = deps;
  return createHubSpotConnector({
    ...auth,
    basePath: env.HUBSPOT_BASE_URL,
    fields: config.hubspot.fields,
    timeoutMs: deps.timeoutMs ?? config.hubspot.timeoutMs,
    ...(redis && {
      ...hubspotBudgets(redis, config),
      reachability: reachabilityFor(redis, config, 'hubspot'),
    }),
    onCall: observeCalls('hubspot', deps.metrics),
    batching: config.pipeline.batching,
  });
}

export function salesforceFromEnv(env: Env, config: Config, deps: CrmDeps): SalesforceConnector | undefined {
  const auth = salesforceAuthFromEnv(env);
  if (!auth || !env.SALESFORCE_INSTANCE_URL) return undefined;
  const { redis } = deps;
  const k = keys(config.redis.prefix);
  return createSalesforceConnector({
    instanceUrl: env.SALESFORCE_INSTANCE_URL,
    loginUrl: env.SALESFORCE_LOGIN_URL,
    auth,
    config: { ...config.salesforce, timeoutMs: deps.timeoutMs ?? config.salesforce.timeoutMs },
    ...(redis && {
      budget: new RateBudget(redis, k.budget('salesforce'), {
        max: config.salesforce.requestsPerSecond,
        intervalMs: 1_000,
      }),
      usage: new ApiUsage(redis, k, 'salesforce'),
      reachability: reachabilityFor(redis, config, 'salesforce'),
    }),
    onCall: observeCalls('salesforce', deps.metrics),
    logger: deps.logger,
    batching: config.pipeline.batching,
  });
}

/** Whether the environment has credentials for a CRM (checked without Redis, which OAuth tokens need). */
export function hasCrmCredentials(env: Env, crm: Crm): boolean {
  return crm === 'hubspot'
    ? !!env.HUBSPOT_ACCESS_TOKEN ||
        !!(env.HUBSPOT_CLIENT_ID && env.HUBSPOT_CLIENT_SECRET && env.HUBSPOT_REFRESH_TOKEN)
    : !!env.SALESFORCE_INSTANCE_URL && salesforceAuthFromEnv(env) !== undefined;
}

export interface Crms {
  connectors: CrmConnector[];
  engagementSources: Partial<Record<Crm, EngagementSource>>;
  hubspot?: HubSpotConnector;
  salesforce?: SalesforceConnector;
}

/**
 * Every CRM the environment has credentials for, with its poller. Refuses a config that needs a CRM
 * it cannot reach (polls it, or hands off into it), naming the variables to set.
 */
export function connectCrms(env: Env, config: Config, deps: CrmDeps & { redis: RedisClient }): Crms {
  const hubspot = hubspotFromEnv(env, config, deps);
  const salesforce = salesforceFromEnv(env, config, deps);
  const missing = (crm: Crm) =>
    crm === 'hubspot'
      ? 'HUBSPOT_ACCESS_TOKEN (private app) or HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN (OAuth app)'
      : 'SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN, SALESFORCE_CLIENT_ID with SALESFORCE_REFRESH_TOKEN, ' +
        'or SALESFORCE_CLIENT_ID with SALESFORCE_USERNAME and SALESFORCE_JWT_PRIVATE_KEY';
  if (!hubspot && !salesforce)
    throw new Error(
      `the worker needs credentials for at least one CRM: ${missing('hubspot')}; or ${missing('salesforce')}`,
    );
  const have = { hubspot: !!hubspot, salesforce: !!salesforce };
  const handoffTo = config.crossCrm?.handoffTo;
  if (handoffTo && !have[handoffTo])
    throw new Error(`crossCrm.handoffTo is ${handoffTo}, which needs ${missing(handoffTo)}`);
  for (const crm of ['hubspot', 'salesforce'] as const) {
    const polled = Object.values(config[crm].polling).some((p) => p !== undefined);
    if (polled && !have[crm]) throw new Error(`${crm}.polling is configured, which needs ${missing(crm)}`);
  }
  if (config.salesforce.cdc && !salesforce)
    throw new Error(`salesforce.cdc is configured, which needs ${missing('salesforce')}`);
  if (config.salesforce.cdc && !env.SALESFORCE_ORG_ID)
    throw new Error('salesforce.cdc is configured, which needs SALESFORCE_ORG_ID (one subscriber per org)');
  return {
    connectors: [hubspot, salesforce].filter((c): c is NonNullable<typeof c> => c !== undefined),
    engagementSources: {
      ...(hubspot ? { hubspot: new HubSpotPoller(hubspot, config.hubspot.polling) } : {}),
      ...(salesforce
        ? {
            salesforce: new SalesforcePoller({
              soql: (query) => salesforce.soql(query),
              config: config.salesforce,
              usage: new ApiUsage(deps.redis, keys(config.redis.prefix), 'salesforce'),
              logger: deps.logger,
            }),
          }
        : {}),
    },
    hubspot,
    salesforce,
  };
}
