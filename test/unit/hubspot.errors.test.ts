import { describe, expect, it } from 'vitest';
import { toCrmFailure } from '../../connectors/hubspot/errors.js';
import { DEFAULT_DAILY_PROBE_MS, classifyFailure } from '../../src/queue/retry.js';

/** Shaped like the SDK's ApiException: code, body, headers. */
const apiError = (code: number, body: unknown, headers: Record<string, string> = {}) =>
  Object.assign(new Error('HTTP-Code: ' + code), { code, body, headers });
const NOW = Date.UTC(2026, 10, 24, 12);

describe('toCrmFailure (HubSpot) and what the queue does with it', () => {
  it.each([
    [
      '429 ten-secondly with Retry-After',
      apiError(
        429,
        { status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING', message: 'slow' },
        { 'retry-after': '2' },
      ),
      { status: 429, code: 'RATE_LIMIT', policy: 'TEN_SECONDLY_ROLLING', retryAfterMs: 2_000 },
      { action: 'pause', scope: 'interval', waitMs: 2_000 },
    ],
    [
      '429 ten-secondly from the rate-limit headers',
      apiError(
        429,
        { errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING', message: 'slow' },
        { 'x-hubspot-ratelimit-remaining': '0', 'x-hubspot-ratelimit-interval-milliseconds': '10000' },
      ),
      { retryAfterMs: 10_000 },
      { action: 'pause', scope: 'interval', waitMs: 10_000 },
    ],
    [
      "429 search's secondly limit as portals answer it now: no policyName, no headers, a second's pause",
      apiError(429, {
        status: 'error',
        message: 'You have reached your secondly limit.',
        correlationId: '00000000-0000-4000-8000-000000000000',
        category: 'RATE_LIMITS',
      }),
      { status: 429, code: 'RATE_LIMITS', policy: undefined, retryAfterMs: 1_000 },
      { action: 'pause', scope: 'interval', waitMs: 1_000 },
    ],
    [
      '429 secondly with the older policyName SECONDLY',
      apiError(429, {
        status: 'error',
        errorType: 'RATE_LIMIT',
        policyName: 'SECONDLY',
        message: 'You have reached your secondly limit.',
      }),
      { status: 429, code: 'RATE_LIMIT', policy: 'SECONDLY', retryAfterMs: 1_000 },
      { action: 'pause', scope: 'interval', waitMs: 1_000 },
    ],
    [
      '429 daily',
      apiError(429, JSON.stringify({ errorType: 'RATE_LIMIT', policyName: 'DAILY', message: 'daily' })),
      { status: 429, policy: 'DAILY' },
      // The body has no reset time; the connector adds the portal's (see hubspot.daily-reset.test.ts).
      { action: 'pause', scope: 'daily', waitMs: DEFAULT_DAILY_PROBE_MS },
    ],
    [
      '400 validation',
      apiError(400, {
        status: 'error',
        category: 'VALIDATION_ERROR',
        message: 'Property "x" does not exist',
      }),
      { status: 400, code: 'VALIDATION_ERROR', message: 'Property "x" does not exist' },
      { action: 'fail', reason: 'hubspot 400 VALIDATION_ERROR: Property "x" does not exist' },
    ],
    [
      '401',
      apiError(401, { category: 'INVALID_AUTHENTICATION', message: 'expired' }),
      { status: 401 },
      { action: 'auth_outage' },
    ],
    [
      '404',
      apiError(404, { category: 'OBJECT_NOT_FOUND', message: 'resource not found' }),
      { status: 404 },
      { action: 'fail' },
    ],
    [
      '500 without a body',
      apiError(500, undefined),
      { status: 500, message: 'HTTP 500' },
      { action: 'backoff' },
    ],
    [
      '502 with an HTML body',
      apiError(502, '<html>bad gateway</html>'),
      { status: 502 },
      { action: 'backoff' },
    ],
    [
      'connection refused',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      { network: true },
      { action: 'backoff' },
    ],
    [
      'node-fetch system error',
      Object.assign(new Error('socket hang up'), { name: 'FetchError', type: 'system', code: 'ECONNRESET' }),
      { network: true, code: 'ECONNRESET' },
      { action: 'backoff' },
    ],
    [
      'our own timeout',
      Object.assign(new Error('timed out'), { name: 'TimeoutError' }),
      { network: true },
      { action: 'backoff' },
    ],
  ])('%s', (_label, err, failure, decision) => {
    const f = toCrmFailure(err);
    expect(f.crm).toBe('hubspot');
    expect(f).toMatchObject(failure);
    expect(classifyFailure(f, NOW)).toMatchObject(decision);
  });

  it('does not invent a wait for a 429 that gives none', () => {
    expect(toCrmFailure(apiError(429, { errorType: 'RATE_LIMIT' })).retryAfterMs).toBeUndefined();
  });
});
