import { createHmac, randomBytes, verify } from 'node:crypto';
import { z } from 'zod';
import type { SalesforceOAuthApp, SalesforceState } from './state.js';

/** OAuth token grants: refresh_token and the JWT bearer flow, checked as Salesforce checks them. */

const TokenRequest = z.discriminatedUnion('grant_type', [
  z.object({
    grant_type: z.literal('refresh_token'),
    refresh_token: z.string().min(1),
    client_id: z.string().min(1),
    client_secret: z.string().optional(),
  }),
  z.object({
    grant_type: z.literal('urn:ietf:params:oauth:grant-type:jwt-bearer'),
    assertion: z.string().min(1),
  }),
]);
const JwtHeader = z.object({ alg: z.literal('RS256') });
const JwtClaims = z.object({ iss: z.string(), sub: z.string(), aud: z.string(), exp: z.number() });
const LOGIN_URLS = ['https://login.salesforce.com', 'https://test.salesforce.com'];

export class OAuthError extends Error {
  constructor(
    readonly error: string,
    description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

/** The subject of a valid JWT bearer assertion (RS256, iss, sub, aud, exp), as Salesforce checks it. */
function verifyAssertion(app: SalesforceOAuthApp, assertion: string, now: number): void {
  const [header, claims, signature] = assertion.split('.');
  if (!header || !claims || !signature || !app.jwtPublicKeyPem)
    throw new OAuthError('invalid_grant', 'invalid assertion');
  const decode = (part: string): unknown => {
    try {
      return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    } catch {
      throw new OAuthError('invalid_grant', 'invalid assertion');
    }
  };
  if (!JwtHeader.safeParse(decode(header)).success)
    throw new OAuthError('invalid_grant', 'invalid assertion');
  const signed = verify(
    'RSA-SHA256',
    Buffer.from(`${header}.${claims}`),
    app.jwtPublicKeyPem,
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) throw new OAuthError('invalid_grant', 'invalid assertion');
  const parsed = JwtClaims.safeParse(decode(claims));
  if (!parsed.success) throw new OAuthError('invalid_grant', 'invalid assertion');
  const c = parsed.data;
  if (c.iss !== app.clientId) throw new OAuthError('invalid_client_id', 'client identifier invalid');
  // The JWT bearer flow's aud must be login/test.salesforce.com or an Experience Cloud site, never
  // My Domain or the host the assertion is posted to.
  if (![...LOGIN_URLS, ...(app.experienceCloudUrls ?? [])].includes(c.aud.replace(/\/$/, '')))
    throw new OAuthError('invalid_grant', 'audience is invalid');
  if (c.exp * 1000 <= now) throw new OAuthError('invalid_grant', 'expired authorization code');
  if (c.sub !== app.username) throw new OAuthError('invalid_grant', "user hasn't approved this consumer");
}

export function grantToken(state: SalesforceState, body: unknown, instanceUrl: string) {
  const app = state.oauth;
  const parsed = TokenRequest.safeParse(body);
  if (!parsed.success) throw new OAuthError('unsupported_grant_type', 'grant type not supported');
  if (!app) throw new OAuthError('invalid_client_id', 'client identifier invalid');
  const grant = parsed.data;
  if (grant.grant_type === 'refresh_token') {
    if (grant.client_id !== app.clientId)
      throw new OAuthError('invalid_client_id', 'client identifier invalid');
    if (grant.client_secret !== undefined && grant.client_secret !== app.clientSecret)
      throw new OAuthError('invalid_client', 'invalid client credentials');
    if (!app.refreshToken || grant.refresh_token !== app.refreshToken)
      throw new OAuthError('invalid_grant', 'expired access/refresh token');
  } else verifyAssertion(app, grant.assertion, Date.now());

  state.refreshes++;
  const issuedAt = String(Date.now());
  const id = `${instanceUrl}/id/${state.orgId}/${state.runningUserId}`;
  return {
    access_token: `${state.orgId.slice(0, 15)}!AQ${randomBytes(24).toString('base64url')}`,
    // Salesforce signs id + issued_at with the consumer secret, so the client can verify them.
    signature: createHmac('sha256', app.clientSecret)
      .update(id + issuedAt)
      .digest('base64'),
    scope: grant.grant_type === 'refresh_token' ? 'refresh_token api' : 'api',
    instance_url: instanceUrl,
    id,
    token_type: 'Bearer',
    issued_at: issuedAt,
  };
}
