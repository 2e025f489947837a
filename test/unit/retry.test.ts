import { describe, expect, it } from 'vitest';
import type { CrmFailure } from '../../connectors/errors.js';
import { CrmError } from '../../connectors/errors.js';
import {
  BUDGET_PAUSED,
  CRM_UNREACHABLE,
  CRM_CREDENTIALS_HELD,
  DEFAULT_DAILY_PROBE_MS,
  DEFAULT_INTERVAL_WAIT_MS,
  classifyFailure,
  classifyInfra,
} from '../../src/queue/retry.js';

const NOW = Date.UTC(2026, 10, 24, 18, 0, 0); // 6 hours before UTC midnight
const NY_MIDNIGHT = Date.UTC(2026, 10, 25, 5, 0, 0); // 11 hours later: midnight in New York (EST)
const hs = (f: Omit<CrmFailure, 'crm' | 'message'>): CrmFailure => ({ crm: 'hubspot', message: 'm', ...f });
const sf = (f: Omit<CrmFailure, 'crm' | 'message'>): CrmFailure => ({
  crm: 'salesforce',
  message: 'm',
  ...f,
});

describe('classifyFailure', () => {
  it.each<[string, CrmFailure, ReturnType<typeof classifyFailure>['action'], Record<string, unknown>?]>([
    [
      'refused unsent: the budget is paused after another call’s 429',
      sf({ status: 429, code: BUDGET_PAUSED, retryAfterMs: 4_000 }),
      'defer',
      { waitMs: 4_000 },
    ],
    [
      '429 ten-secondly with server wait',
      hs({ status: 429, policy: 'TEN_SECONDLY_ROLLING', retryAfterMs: 3_500 }),
      'pause',
      { scope: 'interval', waitMs: 3_500 },
    ],
    [
      '429 without a wait',
      hs({ status: 429, code: 'RATE_LIMIT' }),
      'pause',
      { scope: 'interval', waitMs: DEFAULT_INTERVAL_WAIT_MS },
    ],
    [
      '429 secondly (search)',
      hs({ status: 429, policy: 'SECONDLY', retryAfterMs: 1_000 }),
      'pause',
      { scope: 'interval', waitMs: 1_000 },
    ],
    [
      "429 daily waits for the portal's reset (New York midnight), not UTC midnight",
      hs({ status: 429, policy: 'DAILY', resetAt: NY_MIDNIGHT }),
      'pause',
      { scope: 'daily', waitMs: 11 * 3_600_000 },
    ],
    [
      '429 daily: the reset wins over a Retry-After',
      hs({ status: 429, policy: 'DAILY', retryAfterMs: 3_600_000, resetAt: NY_MIDNIGHT }),
      'pause',
      { scope: 'daily', waitMs: 11 * 3_600_000 },
    ],
    [
      '429 daily with no known reset probes again later instead of guessing UTC midnight',
      hs({ status: 429, policy: 'DAILY' }),
      'pause',
      { scope: 'daily', waitMs: DEFAULT_DAILY_PROBE_MS },
    ],
    [
      'policy case does not matter',
      hs({ status: 429, policy: 'daily', resetAt: NY_MIDNIGHT }),
      'pause',
      { scope: 'daily', waitMs: 11 * 3_600_000 },
    ],
    [
      'DAILY policy without a status',
      hs({ code: 'RATE_LIMIT', policy: 'DAILY', resetAt: NY_MIDNIGHT }),
      'pause',
      { scope: 'daily', waitMs: 11 * 3_600_000 },
    ],
    [
      'a reset time on a ten-secondly 429 is ignored',
      hs({ status: 429, policy: 'TEN_SECONDLY_ROLLING', retryAfterMs: 1_000, resetAt: NY_MIDNIGHT }),
      'pause',
      { scope: 'interval', waitMs: 1_000 },
    ],
    [
      'a reset time on a non-limit failure is ignored',
      hs({ status: 400, code: 'VALIDATION_ERROR', resetAt: NY_MIDNIGHT }),
      'fail',
    ],
    [
      'RATE_LIMIT code without status',
      hs({ code: 'RATE_LIMIT', retryAfterMs: 10 }),
      'pause',
      { scope: 'interval', waitMs: 10 },
    ],
    [
      'Salesforce REQUEST_LIMIT_EXCEEDED',
      sf({ status: 403, code: 'REQUEST_LIMIT_EXCEEDED' }),
      'pause',
      { scope: 'daily', waitMs: DEFAULT_DAILY_PROBE_MS },
    ],
    [
      'Salesforce REQUEST_LIMIT_EXCEEDED with a known reset',
      sf({ status: 403, code: 'REQUEST_LIMIT_EXCEEDED', resetAt: NOW + 60_000 }),
      'pause',
      { scope: 'daily', waitMs: 60_000 },
    ],
    ['UNABLE_TO_LOCK_ROW', sf({ status: 400, code: 'UNABLE_TO_LOCK_ROW' }), 'backoff'],
    ['SERVER_UNAVAILABLE', sf({ code: 'SERVER_UNAVAILABLE' }), 'backoff'],
    ['PROCESSING_HALTED (a sibling failed)', sf({ status: 400, code: 'PROCESSING_HALTED' }), 'backoff'],
    [
      'ALL_OR_NONE_OPERATION_ROLLED_BACK',
      sf({ status: 400, code: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' }),
      'backoff',
    ],
    ['500', hs({ status: 500 }), 'backoff'],
    ['502', hs({ status: 502 }), 'backoff'],
    ['503', sf({ status: 503 }), 'backoff'],
    ['408', hs({ status: 408 }), 'backoff'],
    ['network error', hs({ network: true }), 'backoff'],
    [
      'the unanswered call that showed the CRM unreachable: wait, nothing spent',
      hs({ network: true, unreachableForMs: 110_000 }),
      'unreachable',
      { waitMs: 110_000 },
    ],
    [
      'refused unsent while the CRM is unreachable',
      sf({ code: CRM_UNREACHABLE, unreachableForMs: 5_000 }),
      'unreachable',
      { waitMs: 5_000 },
    ],
    [
      'unreachable wins over a status and a rate limit',
      hs({ status: 429, policy: 'DAILY', network: true, unreachableForMs: 1_000 }),
      'unreachable',
      { waitMs: 1_000 },
    ],
    [
      'a hold that just lapsed is short, never zero',
      hs({ code: CRM_UNREACHABLE, unreachableForMs: 0 }),
      'unreachable',
      { waitMs: 1 },
    ],
    ['a timeout alone (one lead’s) still backs off', hs({ network: true, code: 'TimeoutError' }), 'backoff'],
    ['network error wins over a status', hs({ network: true, status: 400 }), 'backoff'],
    ['unknown status', sf({ code: 'SOMETHING' }), 'backoff'],
    ['401 after the connector refreshed once: an outage, not a bad lead', hs({ status: 401 }), 'auth_outage'],
    ['INVALID_SESSION_ID', sf({ code: 'INVALID_SESSION_ID' }), 'auth_outage'],
    [
      'refused unsent while the CRM refuses our credentials: wait that long, nothing spent',
      hs({ code: CRM_CREDENTIALS_HELD, retryAfterMs: 40_000 }),
      'auth_outage',
      { waitMs: 40_000 },
    ],
    [
      'a credentials hold that just lapsed is short, never zero',
      sf({ code: CRM_CREDENTIALS_HELD, retryAfterMs: 0 }),
      'auth_outage',
      { waitMs: 1 },
    ],
    ['400 validation', hs({ status: 400, code: 'VALIDATION_ERROR' }), 'fail'],
    ['403 scopes', hs({ status: 403, code: 'MISSING_SCOPES' }), 'fail'],
    ['404', hs({ status: 404 }), 'fail'],
    ['409', hs({ status: 409 }), 'fail'],
    ['Salesforce INVALID_FIELD', sf({ status: 400, code: 'INVALID_FIELD' }), 'fail'],
  ])('%s', (_label, failure, action, extra) => {
    const decision = classifyFailure(failure, NOW);
    expect(decision.action).toBe(action);
    if (extra) expect(decision).toMatchObject(extra);
    expect(decision.reason).toContain(failure.crm);
  });

  it('explains a permanent failure with status, code and the CRM message', () => {
    const d = classifyFailure(
      { crm: 'hubspot', status: 400, code: 'VALIDATION_ERROR', message: 'Property "x" does not exist' },
      NOW,
    );
    expect(d).toEqual({
      action: 'fail',
      reason: 'hubspot 400 VALIDATION_ERROR: Property "x" does not exist',
    });
  });

  it('a daily pause right before the reset is short, never zero or negative', () => {
    const d = classifyFailure(hs({ status: 429, policy: 'DAILY', resetAt: NOW + 1 }), NOW);
    expect(d).toMatchObject({ action: 'pause', waitMs: 1 });
    const late = classifyFailure(hs({ status: 429, policy: 'DAILY', resetAt: NOW - 5_000 }), NOW);
    expect(late).toMatchObject({ action: 'pause', waitMs: 1 });
  });
});

describe('classifyInfra', () => {
  const oom = "OOM command not allowed when used memory > 'maxmemory'.";
  const named = (name: string, message: string) => Object.assign(new Error(message), { name });
  /** What ioredis rejects with when Redis answers an error. */
  const reply = (message: string) => named('ReplyError', message);
  it.each<[string, unknown, boolean]>([
    ['OOM from a command', reply(oom), true],
    ['OOM from a script', reply(`${oom} script: 1f2e, on @user_script:12.`), true],
    // Salesforce calls wrap a failed rate-budget reservation in a CrmError carrying Redis' text.
    ['OOM inside a CrmError', new CrmError({ crm: 'salesforce', message: `budget: ${oom}` }), true],
    ['loading after a restart', reply('LOADING Redis is loading the dataset in memory'), true],
    ['a replica', reply("READONLY You can't write against a read only replica."), true],
    ['cluster down', reply('CLUSTERDOWN The cluster is down'), true],
    ['connection closed', new Error('Connection is closed.'), true],
    ['offline queue off', new Error("Stream isn't writeable and enableOfflineQueue options is false"), true],
    [
      'gave up retrying',
      named('MaxRetriesPerRequestError', 'Reached the max retries per request limit'),
      true,
    ],
    ['a CRM failure', new CrmError({ crm: 'hubspot', status: 500, message: 'boom' }), false],
    [
      'a CRM message mentioning memory',
      new CrmError({ crm: 'hubspot', status: 400, message: 'out of memory' }),
      false,
    ],
    ['a plain error', new Error('SLA notification answered 500'), false],
    ['not an error', 'OOM command not allowed', false],
  ])('%s', (_label, err, infra) => {
    const d = classifyInfra(err);
    expect(d?.action).toBe(infra ? 'infra' : undefined);
  });
});
