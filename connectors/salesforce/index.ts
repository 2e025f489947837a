import type { Salesforce } from '../../src/config/schema.js';
import type { Logger } from '../../src/logger.js';
import type { ApiUsage } from '../../src/store/api-usage.js';
import type { RateBudget } from '../../src/store/rate-budget.js';
import type { CrmCallObservation } from '../types.js';
import { createSalesforceSession, type SalesforceAuth } from './auth.js';
import { SalesforceConnector } from './connector.js';

export interface SalesforceConnectorConfig {
  /** The org's instance, e.g. `https://acme.my.salesforce.com` (the sandbox's URL in tests). */
  instanceUrl: string;
  /** Where OAuth tokens are minted. */
  loginUrl: string;
  auth: SalesforceAuth;
  config: Salesforce;
  /** The org's shared request budget: `config.requestsPerSecond` per 1 s window. */
  budget?: RateBudget;
  usage?: ApiUsage;
  onCall?: (call: CrmCallObservation) => void;
  logger?: Logger;
  now?: () => number;
}

/** One jsforce connection per org and process, wrapped as a CrmConnector. */
export function createSalesforceConnector(c: SalesforceConnectorConfig): SalesforceConnector {
  const session = createSalesforceSession({
    instanceUrl: c.instanceUrl,
    loginUrl: c.loginUrl,
    apiVersion: c.config.apiVersion,
    auth: c.auth,
    now: c.now,
  });
  const connector = new SalesforceConnector({
    session,
    config: c.config,
    budget: c.budget,
    usage: c.usage,
    onCall: c.onCall,
    logger: c.logger,
    now: c.now,
  });
  connector.onRefresh(() => c.logger?.info({ crm: 'salesforce' }, 'Salesforce access token refreshed'));
  return connector;
}

export { SalesforceConnector } from './connector.js';
export { salesforceAuthFromEnv, type SalesforceAuth } from './auth.js';
