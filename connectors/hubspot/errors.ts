import { z } from 'zod';
import { NETWORK_CODES, type CrmFailure } from '../errors.js';

/** The records an error is about, as HubSpot names them in its `context`. */
const ErrorContextIds = z.object({ ids: z.array(z.string()) });

function header(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const entry = Object.entries(headers as Record<string, unknown>).find(([k]) => k.toLowerCase() === name);
  const value: unknown = entry?.[1];
  return typeof value === 'string' ? value : Array.isArray(value) ? String(value[0]) : undefined;
}

function parseBody(body: unknown): Record<string, unknown> {
  if (body && typeof body === 'object') return body as Record<string, unknown>;
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
    } catch {
      return { message: body };
    }
  }
  return {};
}

/** How long HubSpot asks us to wait: Retry-After, else the rest of the rolling window when it is used up. */
function serverWaitMs(headers: unknown): number | undefined {
  const retryAfter = header(headers, 'retry-after');
  if (retryAfter !== undefined && /^\d+(\.\d+)?$/.test(retryAfter))
    return Math.ceil(Number(retryAfter) * 1000);
  const remaining = header(headers, 'x-hubspot-ratelimit-remaining');
  const interval = header(headers, 'x-hubspot-ratelimit-interval-milliseconds');
  if (remaining === '0' && interval !== undefined && /^\d+$/.test(interval)) return Number(interval);
  return undefined;
}

/**
 * HubSpot's per-second limits (search: 5 a second per account) answer 429 with no Retry-After and no
 * rate-limit headers; the body says "secondly" (today: `category: RATE_LIMITS` and the message only;
 * older answers: `policyName: SECONDLY`). A second is the wait, not the 10 s of the rolling window.
 */
const SECONDLY_WAIT_MS = 1_000;
function isSecondly(policy: string | undefined, message: string): boolean {
  return policy?.toUpperCase() === 'SECONDLY' || /\bsecondly limit\b/i.test(message);
}

/** A 429 from a per-second endpoint limit (search's), not from the portal's rolling window. */
export function isSecondlyLimit(failure: CrmFailure): boolean {
  return failure.status === 429 && isSecondly(failure.policy, failure.message);
}

/**
 * Pure: what went wrong, from whatever the SDK threw. The SDK has many copies of ApiException (one
 * per generated module), so this reads `code`, `body` and `headers` instead of using instanceof.
 */
export function toCrmFailure(err: unknown): CrmFailure {
  const e = (err ?? {}) as {
    code?: unknown;
    body?: unknown;
    headers?: unknown;
    message?: unknown;
    name?: unknown;
    type?: unknown;
    errno?: unknown;
  };
  if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) {
    const body = parseBody(e.body);
    const category = typeof body.category === 'string' ? body.category : undefined;
    const errorType = typeof body.errorType === 'string' ? body.errorType : undefined;
    const policy = typeof body.policyName === 'string' ? body.policyName : undefined;
    const message = typeof body.message === 'string' && body.message ? body.message : `HTTP ${e.code}`;
    const ids = ErrorContextIds.safeParse(body.context);
    return {
      crm: 'hubspot',
      status: e.code,
      code: errorType ?? category,
      policy,
      retryAfterMs:
        e.code === 429
          ? (serverWaitMs(e.headers) ?? (isSecondly(policy, message) ? SECONDLY_WAIT_MS : undefined))
          : undefined,
      message,
      ...(ids.success && ids.data.ids.length ? { ids: ids.data.ids } : {}),
    };
  }
  const code = typeof e.code === 'string' ? e.code : typeof e.errno === 'string' ? e.errno : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const network =
    (code !== undefined && NETWORK_CODES.has(code)) ||
    e.name === 'FetchError' ||
    e.name === 'AbortError' ||
    e.name === 'TimeoutError' ||
    e.type === 'request-timeout' ||
    e.type === 'system';
  return { crm: 'hubspot', code, network: network || undefined, message };
}
