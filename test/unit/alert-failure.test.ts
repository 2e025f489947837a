import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
} from '@slack/web-api/dist/errors.js';
import { describe, expect, it } from 'vitest';
import { alertChannels } from '../../src/alerts/index.js';
import { slackFailure, smtpFailure } from '../../src/alerts/failure.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseEnv } from '../../src/config/env.js';
import { Config } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';

const platform = (error: string) => new WebAPIPlatformError({ ok: false, error });
const network = (code: string) => new WebAPIRequestError(Object.assign(new Error(code), { code }));

describe('what a rep alert failure means', () => {
  it.each([
    ['rate limited (429, Retry-After 3)', new WebAPIRateLimitedError(3), false, 'retry', 3000],
    ['users_not_found', platform('users_not_found'), false, 'permanent', undefined],
    ['invalid_auth', platform('invalid_auth'), true, 'permanent', undefined],
    ['channel_not_found', platform('channel_not_found'), true, 'permanent', undefined],
    ['internal_error', platform('internal_error'), true, 'retry', undefined],
    ['HTTP 503', new WebAPIHTTPError(503, 'Service Unavailable', {}), true, 'retry', undefined],
    ['HTTP 404', new WebAPIHTTPError(404, 'Not Found', {}), false, 'permanent', undefined],
    ['connection refused while posting', network('ECONNREFUSED'), true, 'retry', undefined],
    ['connection reset while posting', network('ECONNRESET'), true, 'uncertain', undefined],
    ['connection reset while looking up', network('ECONNRESET'), false, 'retry', undefined],
    ['something else while posting', new Error('boom'), true, 'uncertain', undefined],
  ])('Slack: %s', (_what, err, posting, kind, retryAfterMs) => {
    const failure = slackFailure(err, posting);
    expect(failure.kind).toBe(kind);
    expect(failure.retryAfterMs).toBe(retryAfterMs);
  });

  it.each([
    ['451 try later', { responseCode: 451, message: '451 try again later' }, 'retry'],
    ['550 mailbox unavailable', { responseCode: 550, message: '550 no such user' }, 'permanent'],
    ['cannot connect', { code: 'ESOCKET', command: 'CONN', message: 'connect ECONNREFUSED' }, 'retry'],
    ['bad credentials', { code: 'EAUTH', message: 'Invalid login' }, 'permanent'],
    ['no recipients', { code: 'EENVELOPE', message: 'No recipients defined' }, 'permanent'],
    ['socket closed mid-message', { code: 'ETIMEDOUT', command: 'DATA', message: 'Timeout' }, 'uncertain'],
  ])('SMTP: %s', (_what, err, kind) => {
    expect(smtpFailure(Object.assign(new Error(err.message), err)).kind).toBe(kind);
  });
});

describe('alert channels from config and environment', () => {
  const base = loadConfig('config/default.yaml');
  const withAlerts = Config.parse({
    ...base,
    alerts: { slack: {}, email: { from: 'Leadflow <leadflow@example.com>' } },
  });

  it('none unless configured; each configured one needs its secret', () => {
    expect(alertChannels(parseEnv({}), base)).toEqual([]);
    expect(() => alertChannels(parseEnv({}), withAlerts)).toThrow(ConfigError);
    expect(() => alertChannels(parseEnv({}), withAlerts)).toThrow(
      /alerts.slack needs SLACK_BOT_TOKEN[\s\S]*alerts.email needs SMTP_URL/,
    );
    const env = parseEnv({ SLACK_BOT_TOKEN: 'xoxb-1-2', SMTP_URL: 'smtp://127.0.0.1:2525' });
    expect(alertChannels(env, withAlerts).map((c) => c.name)).toEqual(['slack', 'email']);
    expect(() => parseEnv({ SMTP_URL: 'http://x' })).toThrow(/SMTP_URL: must start with smtp/);
  });
});
