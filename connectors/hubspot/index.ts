import { Client } from '@hubspot/api-client';
import type { HubSpotFields } from '../../src/config/schema.js';
import type { RateBudget } from '../../src/store/rate-budget.js';
import type { CrmReachability } from '../../src/store/reachability.js';
import type { CrmCallObservation } from '../types.js';
import { MAX_IN_FLIGHT } from './api.js';
import { HubSpotConnector } from './connector.js';
import type { HubSpotOAuth } from './oauth.js';
import { abortingAgent } from './transport.js';

export interface HubSpotConnectorConfig {
  /** A private app's token; OAuth apps pass `oauth` instead. */
  accessToken?: string;
  oauth?: HubSpotOAuth;
  basePath: string;
  fields: HubSpotFields;
  timeoutMs?: number;
  budget?: RateBudget;
  searchBudget?: RateBudget;
  reachability?: CrmReachability;
  onCall?: (call: CrmCallObservation) => void;
  batching?: boolean;
}

/**
 * One client per process configuration (the SDK shares decorators process-wide). Its own retries
 * stay off: they ignore Retry-After and DAILY limits, and our queue classifies failures instead.
 * Keep-alive sockets save a TLS handshake per call, which is most of a handoff's latency.
 */
export function createHubSpotConnector(config: HubSpotConnectorConfig): HubSpotConnector {
  // No maxSockets: the connector keeps its calls within MAX_IN_FLIGHT (api.ts), so nothing queues here.
  const agentOptions = { keepAlive: true, maxFreeSockets: MAX_IN_FLIGHT };
  const client = new Client({
    accessToken: config.accessToken,
    basePath: config.basePath.replace(/\/$/, ''),
    numberOfApiCallRetries: 0,
    httpAgent: abortingAgent(config.basePath.startsWith('https:'), agentOptions),
    middleware: config.budget ? [observeRateLimit(config.budget)] : [],
  });
  return new HubSpotConnector({
    client,
    fields: config.fields,
    timeoutMs: config.timeoutMs,
    budget: config.budget,
    searchBudget: config.searchBudget,
    reachability: config.reachability,
    onCall: config.onCall,
    oauth: config.oauth,
    batching: config.batching,
  });
}

/**
 * Other apps share the portal's limit, and HubSpot says in each answer how much of it is left: that
 * count corrects the shared budget (search answers carry none).
 */
function observeRateLimit(budget: RateBudget) {
  return {
    pre: (context: unknown) => context,
    post: (context: unknown) => {
      const headers = (context as { headers?: Record<string, string> }).headers ?? {};
      const remaining = headers['x-hubspot-ratelimit-remaining'];
      // Best effort: a Redis hiccup here must not fail a CRM call that succeeded.
      if (remaining !== undefined && /^\d+$/.test(remaining))
        budget.observe(Number(remaining)).catch(() => undefined);
      return context;
    },
  };
}

export { HubSpotConnector } from './connector.js';
