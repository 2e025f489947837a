import { createSalesforceSession, type SalesforceAuth } from './auth.js';
import type { SalesforceConnectorOptions } from './api.js';
import { SalesforceConnector } from './connector.js';

export interface SalesforceConnectorConfig extends Omit<SalesforceConnectorOptions, 'session'> {
  /** The org's instance, e.g. `https://acme.my.salesforce.com` (the sandbox's URL in tests). */
  instanceUrl: string;
  /** Where OAuth tokens are minted. */
  loginUrl: string;
  auth: SalesforceAuth;
}

/** One jsforce connection per org and process, wrapped as a CrmConnector. */
export function createSalesforceConnector({
  instanceUrl,
  loginUrl,
  auth,
  ...options
}: SalesforceConnectorConfig): SalesforceConnector {
  const session = createSalesforceSession({
    instanceUrl,
    loginUrl,
    apiVersion: options.config.apiVersion,
    auth,
    now: options.now,
  });
  const connector = new SalesforceConnector({ ...options, session });
  connector.onRefresh(() => options.logger?.info({ crm: 'salesforce' }, 'Salesforce access token refreshed'));
  return connector;
}

export { SalesforceConnector } from './connector.js';
export { salesforceAuthFromEnv, type SalesforceAuth } from './auth.js';
