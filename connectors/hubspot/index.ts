import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Client } from '@hubspot/api-client';
import type { HubSpotFields } from '../../src/config/schema.js';
import type { RateBudget } from '../../src/store/rate-budget.js';
import type { CrmCallObservation } from '../types.js';
import { HubSpotConnector } from './connector.js';
import type { HubSpotOAuth } from './oauth.js';

export interface HubSpotConnectorConfig {
  /** A private app's token; OAuth apps pass `oauth` instead. */
  accessToken?: string;
  oauth?: HubSpotOAuth;
  basePath: string;
  fields: HubSpotFields;
  timeoutMs?: number;
  budget?: RateBudget;
  searchBudget?: RateBudget;
  onCall?: (call: CrmCallObservation) => void;
}

/**
 * One client per process configuration (the SDK shares decorators process-wide). Its own retries
 * stay off: they ignore Retry-After and DAILY limits, and our queue classifies failures instead.
 * Keep-alive sockets would save a TLS handshake per call, but SDK 13.x never runs its client-level
 * middleware, which is where it applies `httpAgent` (HubSpot/hubspot-api-nodejs#686, fixed in 14.0.1,
 * which needs Node 22): the agent takes effect once we can move to 14.
 */
export function createHubSpotConnector(config: HubSpotConnectorConfig): HubSpotConnector {
  const agentOptions = { keepAlive: true, maxSockets: 64 };
  const client = new Client({
    accessToken: config.accessToken,
    basePath: config.basePath.replace(/\/$/, ''),
    numberOfApiCallRetries: 0,
    httpAgent: config.basePath.startsWith('https:')
      ? new HttpsAgent(agentOptions)
      : new HttpAgent(agentOptions),
  });
  return new HubSpotConnector({
    client,
    fields: config.fields,
    timeoutMs: config.timeoutMs,
    budget: config.budget,
    searchBudget: config.searchBudget,
    onCall: config.onCall,
    oauth: config.oauth,
  });
}

export { HubSpotConnector } from './connector.js';
