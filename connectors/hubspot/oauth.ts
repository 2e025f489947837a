import type { RedisClient } from '../../src/store/redis.js';
import { z } from 'zod';
import { CrmError } from '../errors.js';

/** Refresh this long before expiry, so no call goes out with a token about to lapse. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const LOCK_MS = 15_000;

/** HubSpot's answer to a refresh (the part we rely on). */
const TokenResponse = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.number().int().positive(),
});

export interface OAuthSettings {
  clientId: string;
  clientSecret: string;
  /** The refresh token from the app's install; HubSpot may rotate it, the current one lives in Redis. */
  refreshToken: string;
  basePath: string;
}

interface StoredToken {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

/**
 * OAuth access tokens for a HubSpot app, shared by every worker through Redis: one process refreshes
 * (under a lock) shortly before expiry or after a 401, the others pick up the new token. Tokens are
 * kept in Redis and in memory only — never logged, never in errors.
 */
export class HubSpotOAuth {
  private cached: StoredToken | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly settings: OAuthSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token valid for at least the refresh margin. */
  async token(): Promise<string> {
    if (this.cached && this.cached.expiresAt - this.now() > REFRESH_MARGIN_MS) return this.cached.accessToken;
    const stored = await this.read();
    if (stored && stored.expiresAt - this.now() > REFRESH_MARGIN_MS)
      return (this.cached = stored).accessToken;
    return (await this.refresh(stored)).accessToken;
  }

  /** Called on a 401: the token is dead whatever its expiry said, unless another process already replaced it. */
  async invalidate(token: string): Promise<void> {
    this.cached = undefined;
    const stored = await this.read();
    if (stored?.accessToken === token) await this.redis.hset(this.key, 'expiresAt', '0');
  }

  private async read(): Promise<StoredToken | undefined> {
    const hash = await this.redis.hgetall(this.key);
    if (!hash.accessToken || !hash.refreshToken) return undefined;
    return {
      accessToken: hash.accessToken,
      refreshToken: hash.refreshToken,
      expiresAt: Number(hash.expiresAt),
    };
  }

  private async refresh(stale: StoredToken | undefined): Promise<StoredToken> {
    const lock = `${this.key}:lock`;
    const deadline = this.now() + LOCK_MS;
    while (!(await this.redis.set(lock, '1', 'PX', LOCK_MS, 'NX'))) {
      // Another process is refreshing: wait for its token.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stored = await this.read();
      if (stored && stored.accessToken !== stale?.accessToken && stored.expiresAt > this.now())
        return (this.cached = stored);
      if (this.now() > deadline) break;
    }
    try {
      const current = await this.read();
      if (
        current &&
        current.accessToken !== stale?.accessToken &&
        current.expiresAt - this.now() > REFRESH_MARGIN_MS
      )
        return (this.cached = current);
      const refreshToken = current?.refreshToken ?? this.settings.refreshToken;
      const fresh = await this.exchange(refreshToken);
      await this.redis.hset(this.key, {
        accessToken: fresh.accessToken,
        refreshToken: fresh.refreshToken,
        expiresAt: String(fresh.expiresAt),
      });
      return (this.cached = fresh);
    } finally {
      await this.redis.del(lock);
    }
  }

  private async exchange(refreshToken: string): Promise<StoredToken> {
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: this.settings.clientId,
      client_secret: this.settings.clientSecret,
      refresh_token: refreshToken,
    });
    const res = await fetch(`${this.settings.basePath.replace(/\/$/, '')}/oauth/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(10_000),
    }).catch((err: unknown) => {
      throw new CrmError({
        crm: 'hubspot',
        network: true,
        message: `token refresh: ${(err as Error).message}`,
      });
    });
    const json: unknown = await res.json().catch(() => null);
    const parsed = TokenResponse.safeParse(json);
    if (!res.ok || !parsed.success) {
      // HubSpot's message says why (e.g. a revoked refresh token); the tokens themselves stay out of it.
      const message = (json as { message?: unknown } | null)?.message;
      throw new CrmError({
        crm: 'hubspot',
        status: res.ok ? 502 : res.status,
        message: `token refresh failed: ${typeof message === 'string' ? message : 'unexpected answer'}`,
      });
    }
    return {
      accessToken: parsed.data.access_token,
      refreshToken: parsed.data.refresh_token,
      expiresAt: this.now() + parsed.data.expires_in * 1000,
    };
  }
}
