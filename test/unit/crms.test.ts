import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCrms } from '../../src/cli/crms.js';
import { parseEnv } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { testRedis } from '../helpers/redis.js';

const HUBSPOT = { HUBSPOT_ACCESS_TOKEN: 'pat' };
const SALESFORCE_API = { SALESFORCE_INSTANCE_URL: 'http://127.0.0.1:1', SALESFORCE_ACCESS_TOKEN: 'tok' };
const SALESFORCE = { ...SALESFORCE_API, SALESFORCE_ORG_ID: '00D000000000001AAA' };

describe('which CRMs a worker connects', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(() => redis.disconnect());

  const base = loadConfig('config/default.yaml');
  const sfOnly = loadConfig('config/examples/salesforce-only.yaml');
  const crossCrm = loadConfig('config/examples/hubspot-to-salesforce.yaml');
  const connect = (vars: Record<string, string>, config: Config) =>
    connectCrms(parseEnv({ REDIS_URL: 'redis://127.0.0.1:6379', ...vars }), config, { redis });

  it('connects each CRM it has credentials for, with its poller', () => {
    const both = connect({ ...HUBSPOT, ...SALESFORCE }, crossCrm);
    expect(both.connectors.map((c) => c.crm)).toEqual(['hubspot', 'salesforce']);
    expect(Object.keys(both.engagementSources)).toEqual(['hubspot', 'salesforce']);
    const sf = connect(SALESFORCE, sfOnly);
    expect(sf.connectors.map((c) => c.crm)).toEqual(['salesforce']);
    expect(sf.hubspot).toBeUndefined();
  });

  it('refuses to start without credentials for any CRM, naming the variables', () => {
    expect(() => connect({}, base)).toThrow(
      /at least one CRM: HUBSPOT_ACCESS_TOKEN .* SALESFORCE_INSTANCE_URL/,
    );
  });

  it('refuses a config that needs a CRM it cannot reach', () => {
    expect(() => connect(HUBSPOT, crossCrm)).toThrow(
      /crossCrm.handoffTo is salesforce, which needs SALESFORCE_INSTANCE_URL/,
    );
    expect(() =>
      connect(SALESFORCE, {
        ...sfOnly,
        crossCrm: undefined,
        salesforce: { ...sfOnly.salesforce, cdc: undefined },
        hubspot: crossCrm.hubspot,
      }),
    ).toThrow(/hubspot.polling is configured, which needs HUBSPOT_ACCESS_TOKEN/);
    expect(() =>
      connect(HUBSPOT, { ...base, salesforce: { ...base.salesforce, polling: sfOnly.salesforce.polling } }),
    ).toThrow(/salesforce.polling is configured/);
    expect(() =>
      connect(HUBSPOT, { ...base, salesforce: { ...base.salesforce, cdc: sfOnly.salesforce.cdc } }),
    ).toThrow(/salesforce.cdc is configured/);
    // One CDC subscriber per org: it needs to know which.
    expect(() => connect(SALESFORCE_API, sfOnly)).toThrow(
      /salesforce.cdc is configured, which needs SALESFORCE_ORG_ID/,
    );
  });
});
