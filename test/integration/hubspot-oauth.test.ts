import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { HubSpotOAuth } from '../../connectors/hubspot/oauth.js';
import { HubSpotFields } from '../../src/config/schema.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

describe('HubSpot OAuth tokens (sandbox, real Redis)', () => {
  const prefix = uniquePrefix('oauth');
  const key = `${prefix}:oauth:hubspot`;
  const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '5' };
  let sandbox: Sandbox;
  let a: Redis;
  let b: Redis;

  beforeAll(async () => {
    sandbox = await startSandbox();
    sandbox.hubspot.oauth = {
      clientId: 'app',
      clientSecret: 'shh',
      refreshToken: 'install-refresh',
      expiresIn: 1800,
    };
    sandbox.seedContacts([{ id: '5', properties: { email: 'x@y.io' } }]);
    a = testRedis();
    b = testRedis();
  });
  afterAll(async () => {
    await sandbox.close();
    await cleanPrefix(a, prefix);
    a.disconnect();
    b.disconnect();
  });

  const oauth = (redis: Redis, now?: () => number) =>
    new HubSpotOAuth(
      redis,
      key,
      { clientId: 'app', clientSecret: 'shh', refreshToken: 'install-refresh', basePath: sandbox.url },
      now,
    );
  const connector = (auth: HubSpotOAuth) =>
    createHubSpotConnector({ oauth: auth, basePath: sandbox.url, fields: HubSpotFields.parse({}) });

  it('two workers starting together refresh once and share the token; the rotated refresh token is kept', async () => {
    const [x, y] = await Promise.all([oauth(a).token(), oauth(b).token()]);
    expect(x).toBe('access-1');
    expect(y).toBe('access-1');
    expect(sandbox.hubspot.refreshes).toBe(1);
    expect(await a.hget(key, 'refreshToken')).toBe('refresh-1');
  });

  it('refreshes before expiry, not after', async () => {
    let now = Date.now();
    const auth = oauth(a, () => now);
    expect(await auth.token()).toBe('access-1');
    now += 26 * 60_000; // 4 minutes left of 30: inside the 5-minute margin
    expect(await auth.token()).toBe('access-2');
    expect(sandbox.hubspot.refreshes).toBe(2);
  });

  it('a 401 refreshes the token and the call is made once more', async () => {
    sandbox.hubspot.revokedTokens.add('access-2');
    const profile = await connector(oauth(b)).readProfile(lead);
    expect(profile.email).toBe('x@y.io');
    expect(sandbox.hubspot.refreshes).toBe(3);
    expect(sandbox.calls.filter((c) => c.path === '/crm/v3/objects/contacts/5').map((c) => c.status)).toEqual(
      [401, 200],
    );
  });

  it('a refused refresh fails with HubSpot’s reason and no token in the message', async () => {
    sandbox.hubspot.oauth!.refreshToken = 'rotated-elsewhere';
    await a.hset(key, 'expiresAt', '0');
    const err = (await oauth(a)
      .token()
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('hubspot 400: token refresh failed: missing or unknown refresh token');
    expect(err.message).not.toMatch(/refresh-\d|access-\d|shh/);
  });
});
