import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import jsforce, { type Connection } from 'jsforce';
import { z } from 'zod';
import type { Env } from '../../src/config/env.js';
import { CrmError } from '../errors.js';

/** How leadflow authenticates to the org. Tokens live in memory only: never logged, never in errors. */
export type SalesforceAuth =
  /** A fixed access token (a session id or a token minted elsewhere); it cannot be refreshed. */
  | { kind: 'access_token'; accessToken: string }
  /** A connected app and a refresh token from its authorization. */
  | {
      kind: 'refresh_token';
      clientId: string;
      clientSecret?: string;
      refreshToken: string;
      accessToken?: string;
    }
  /**
   * A connected app with an uploaded certificate: tokens minted from signed JWT assertions. The
   * assertion's `aud` is `audience` when given, else derived from the login URL (`jwtAudience`).
   */
  | {
      kind: 'jwt_bearer';
      clientId: string;
      username: string;
      privateKeyPem: string;
      audience?: string;
      accessToken?: string;
    };

/** The auth the environment describes (JWT bearer, then refresh token, then a fixed token), if any. */
export function salesforceAuthFromEnv(env: Env): SalesforceAuth | undefined {
  const clientId = env.SALESFORCE_CLIENT_ID;
  if (clientId && env.SALESFORCE_JWT_PRIVATE_KEY && env.SALESFORCE_USERNAME)
    return {
      kind: 'jwt_bearer',
      clientId,
      username: env.SALESFORCE_USERNAME,
      privateKeyPem: env.SALESFORCE_JWT_PRIVATE_KEY,
      audience: env.SALESFORCE_JWT_AUDIENCE,
      accessToken: env.SALESFORCE_ACCESS_TOKEN,
    };
  if (clientId && env.SALESFORCE_REFRESH_TOKEN)
    return {
      kind: 'refresh_token',
      clientId,
      clientSecret: env.SALESFORCE_CLIENT_SECRET,
      refreshToken: env.SALESFORCE_REFRESH_TOKEN,
      accessToken: env.SALESFORCE_ACCESS_TOKEN,
    };
  if (env.SALESFORCE_ACCESS_TOKEN) return { kind: 'access_token', accessToken: env.SALESFORCE_ACCESS_TOKEN };
  return undefined;
}

export const PRODUCTION_AUDIENCE = 'https://login.salesforce.com';
export const SANDBOX_AUDIENCE = 'https://test.salesforce.com';
/** A sandbox's My Domain: `acme--uat.sandbox.my.salesforce.com`. */
const SANDBOX_MY_DOMAIN = /^[a-z0-9-]+--[a-z0-9-]+\.sandbox\.my\.salesforce\.com$/i;

/**
 * Pure: the JWT bearer `aud` for a login URL. Salesforce accepts only login.salesforce.com,
 * test.salesforce.com or an Experience Cloud site URL there, never My Domain or the token host
 * (tokens are still requested from the login URL): test for test.salesforce.com and sandbox My
 * Domains, login otherwise. An Experience Cloud site must be given explicitly.
 */
export function jwtAudience(loginUrl: string): string {
  let host: string;
  try {
    host = new URL(loginUrl).hostname;
  } catch {
    return PRODUCTION_AUDIENCE;
  }
  return host === 'test.salesforce.com' || SANDBOX_MY_DOMAIN.test(host)
    ? SANDBOX_AUDIENCE
    : PRODUCTION_AUDIENCE;
}

/**
 * A token minted this recently and already refused will not be saved by minting another: jsforce
 * would refresh and resend for as long as the org answers 401, so the second refresh in this window
 * is refused and the call fails with INVALID_SESSION_ID instead. Salesforce sessions last 15 minutes
 * at least, so no healthy token needs replacing this soon.
 */
export const REFRESH_COOLDOWN_MS = 60_000;
/** JWT bearer assertions are valid this long (Salesforce accepts up to 3 minutes). */
const ASSERTION_TTL_S = 180;
const TOKEN_TIMEOUT_MS = 15_000;

/** Salesforce's token answer, the part we rely on. */
const TokenAnswer = z.object({
  access_token: z.string().min(1),
  instance_url: z.url().optional(),
});
const TokenError = z.object({ error: z.string(), error_description: z.string().optional() });

export interface SessionOptions {
  instanceUrl: string;
  /** Where tokens are minted: login.salesforce.com, test.salesforce.com or a My Domain. */
  loginUrl: string;
  apiVersion: string;
  auth: SalesforceAuth;
  now?: () => number;
}

export interface SalesforceSession {
  /** The jsforce connection; it refreshes on 401 by itself and emits `refresh` when it did. */
  conn: Connection;
  /** Resolves once the connection has an access token (OAuth flows may start without one). */
  ready(): Promise<void>;
}

/**
 * The jsforce connection for an org. OAuth flows get a `refreshFn` (ours for both: the token
 * answer is parsed and errors are scrubbed of secrets), so jsforce refreshes on INVALID_SESSION_ID,
 * retries the request once and emits `refresh` — which the CDC subscriber listens to.
 */
export function createSalesforceSession(opts: SessionOptions): SalesforceSession {
  const { auth } = opts;
  const now = opts.now ?? Date.now;
  const loginUrl = opts.loginUrl.replace(/\/$/, '');
  const base = { instanceUrl: opts.instanceUrl.replace(/\/$/, ''), loginUrl, version: opts.apiVersion };
  if (auth.kind === 'access_token') {
    const conn = new jsforce.Connection({ ...base, accessToken: auth.accessToken });
    return { conn, ready: () => Promise.resolve() };
  }
  const mint =
    auth.kind === 'refresh_token'
      ? () =>
          requestToken(
            loginUrl,
            {
              grant_type: 'refresh_token',
              client_id: auth.clientId,
              refresh_token: auth.refreshToken,
              ...(auth.clientSecret ? { client_secret: auth.clientSecret } : {}),
            },
            [auth.refreshToken, auth.clientSecret],
          )
      : jwtBearerMint(auth, loginUrl, now);

  let lastMintedAt: number | undefined;
  const refreshFn = (c: Connection, callback: (err: Error | null, token?: string) => void) => {
    if (lastMintedAt !== undefined && now() - lastMintedAt < REFRESH_COOLDOWN_MS) {
      callback(
        new Error(
          `INVALID_SESSION_ID: the token minted ${Math.round((now() - lastMintedAt) / 1000)} s ago was refused as well; not refreshing again`,
        ),
      );
      return;
    }
    mint().then(
      (token) => {
        lastMintedAt = now();
        if (token.instanceUrl) c.instanceUrl = token.instanceUrl;
        callback(null, token.accessToken);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  };
  const conn = new jsforce.Connection({
    ...base,
    accessToken: auth.accessToken,
    // jsforce wants the refresh token on the connection (it never sends it itself: refreshFn does).
    ...(auth.kind === 'refresh_token'
      ? { refreshToken: auth.refreshToken, oauth2: { clientId: auth.clientId, loginUrl } }
      : {}),
    refreshFn,
  });
  return {
    conn,
    ready: async () => {
      if (conn.accessToken) return;
      // Through jsforce's delegate, so concurrent first calls share one grant and `refresh` is emitted.
      await conn._refreshDelegate?.refresh(now());
    },
  };
}

interface Minted {
  accessToken: string;
  instanceUrl?: string;
}

/** Mints tokens from RS256 assertions signed with the connected app's private key. */
function jwtBearerMint(
  auth: Extract<SalesforceAuth, { kind: 'jwt_bearer' }>,
  loginUrl: string,
  now: () => number,
): () => Promise<Minted> {
  let key: KeyObject;
  try {
    key = createPrivateKey(auth.privateKeyPem);
  } catch {
    // The key's own text must not end up in a log.
    throw new Error('SALESFORCE_JWT_PRIVATE_KEY is not a PEM private key');
  }
  const aud = (auth.audience ?? jwtAudience(loginUrl)).replace(/\/$/, '');
  return () => {
    const assertion = signAssertion(
      {
        iss: auth.clientId,
        sub: auth.username,
        aud,
        exp: Math.floor(now() / 1000) + ASSERTION_TTL_S,
      },
      key,
    );
    return requestToken(loginUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }, [
      assertion,
    ]);
  };
}

/** A compact JWS (RS256) over these claims. */
export function signAssertion(claims: Record<string, string | number>, key: KeyObject | string): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), key).toString('base64url')}`;
}

/** POSTs a grant to the token endpoint; failures become CrmErrors that name no secret. */
async function requestToken(
  loginUrl: string,
  params: Record<string, string>,
  secrets: (string | undefined)[],
): Promise<Minted> {
  const scrub = (s: string) =>
    secrets.reduce<string>((out, secret) => (secret ? out.split(secret).join('[redacted]') : out), s);
  let res: Response;
  try {
    res = await fetch(`${loginUrl}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(params),
      signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause?.code;
    throw new CrmError({
      crm: 'salesforce',
      network: true,
      message: scrub(
        `token request failed: ${(err as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}`,
      ),
    });
  }
  const json: unknown = await res.json().catch(() => null);
  const granted = TokenAnswer.safeParse(json);
  if (res.ok && granted.success)
    return { accessToken: granted.data.access_token, instanceUrl: granted.data.instance_url };
  const refused = TokenError.safeParse(json);
  throw new CrmError({
    crm: 'salesforce',
    status: res.ok ? 502 : res.status,
    code: refused.success ? refused.data.error : undefined,
    message: scrub(
      `token request failed: ${
        refused.success
          ? (refused.data.error_description ?? refused.data.error)
          : res.ok
            ? 'the answer has no access_token'
            : `HTTP ${res.status}`
      }`,
    ),
  });
}
