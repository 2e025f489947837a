import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { isCrmError, type CrmFailure } from '../../connectors/errors.js';
import { nextMidnight } from '../../connectors/hubspot/account.js';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { HubSpotFields } from '../../src/config/schema.js';
import { classifyFailure } from '../../src/queue/retry.js';
import { pinRequests } from '../helpers/nock.js';

const BASE = 'http://hubspot.test';
const connector = () =>
  createHubSpotConnector({
    accessToken: 'pat-test',
    basePath: BASE,
    fields: HubSpotFields.parse({}),
    timeoutMs: 2_000,
  });
const DAILY = {
  status: 'error',
  errorType: 'RATE_LIMIT',
  policyName: 'DAILY',
  message: 'You have reached your daily limit.',
  correlationId: '00000000-0000-4000-8000-000000000000',
};
const failureOf = async (call: Promise<unknown>): Promise<CrmFailure> => {
  const err: unknown = await call.catch((e: unknown) => e);
  if (!isCrmError(err)) throw new Error(`expected a CrmError, got ${String(err)}`);
  return err.failure;
};

describe('nextMidnight: when HubSpot resets a daily limit', () => {
  it.each([
    ['UTC', 'UTC', Date.UTC(2026, 10, 24, 18), Date.UTC(2026, 10, 25, 0)],
    ['New York (EST)', 'America/New_York', Date.UTC(2026, 10, 24, 18), Date.UTC(2026, 10, 25, 5)],
    ['the alias HubSpot answers', 'US/Eastern', Date.UTC(2026, 10, 24, 18), Date.UTC(2026, 10, 25, 5)],
    [
      'New York, already the next UTC day',
      'America/New_York',
      Date.UTC(2026, 10, 25, 3),
      Date.UTC(2026, 10, 25, 5),
    ],
    ['Tokyo (+9)', 'Asia/Tokyo', Date.UTC(2026, 10, 24, 18), Date.UTC(2026, 10, 25, 15)],
    ['Kolkata (+5:30)', 'Asia/Kolkata', Date.UTC(2026, 10, 24, 18), Date.UTC(2026, 10, 24, 18, 30)],
    ['Kiritimati (+14)', 'Pacific/Kiritimati', Date.UTC(2026, 10, 24, 18), Date.UTC(2026, 10, 25, 10)],
    ['Pago Pago (-11)', 'Pacific/Pago_Pago', Date.UTC(2026, 10, 24, 18), Date.UTC(2026, 10, 25, 11)],
    // 01:00 EST on the day clocks go forward: that night's midnight is EDT (UTC-4).
    ['New York across the DST start', 'America/New_York', Date.UTC(2026, 2, 8, 6), Date.UTC(2026, 2, 9, 4)],
    ['Berlin across the DST end', 'Europe/Berlin', Date.UTC(2026, 9, 24, 23), Date.UTC(2026, 9, 25, 23)],
    [
      'exactly at midnight: the next one',
      'America/New_York',
      Date.UTC(2026, 10, 25, 5),
      Date.UTC(2026, 10, 26, 5),
    ],
  ])('%s', (_label, zone, now, expected) => {
    expect(new Date(nextMidnight(zone, now)).toISOString()).toBe(new Date(expected).toISOString());
  });

  it('refuses a zone the runtime does not know', () => {
    expect(() => nextMidnight('Mars/Olympus', 0)).toThrow(RangeError);
  });
});

describe('a DAILY 429 pauses until midnight in the portal time zone', () => {
  pinRequests();

  it('on a call outside the SDK (email events): keeps the policy and adds the reset, reading the zone once', async () => {
    const now = Date.now();
    nock(BASE).get('/email/public/v1/events').query(true).times(2).reply(429, DAILY);
    nock(BASE).get('/account-info/v3/details').once().reply(200, {
      portalId: 62515,
      accountType: 'STANDARD',
      timeZone: 'Asia/Tokyo',
      companyCurrency: 'USD',
      additionalCurrencies: [],
      utcOffset: '+09:00',
      utcOffsetMilliseconds: 32_400_000,
      uiDomain: 'app.hubspot.com',
      dataHostingLocation: 'na1',
    });
    const c = connector();
    const first = await failureOf(c.emailEvents(0, 1, undefined));
    expect(first).toMatchObject({
      status: 429,
      code: 'RATE_LIMIT',
      policy: 'DAILY',
      message: 'read email events: You have reached your daily limit.',
    });
    expect(first.resetAt).toBeGreaterThanOrEqual(nextMidnight('Asia/Tokyo', now));
    expect(first.resetAt).toBeLessThanOrEqual(nextMidnight('Asia/Tokyo', Date.now()));
    const decision = classifyFailure(first, now);
    expect(decision).toMatchObject({ action: 'pause', scope: 'daily', waitMs: first.resetAt! - now });
    // The zone is cached: the second DAILY 429 reads no account details (nock would refuse a second).
    expect((await failureOf(c.emailEvents(0, 1, undefined))).resetAt).toBe(first.resetAt);
  });

  it('on an SDK call too; without a readable zone the queue probes again instead of guessing', async () => {
    nock(BASE).post('/crm/v3/objects/contacts/search').reply(429, DAILY);
    nock(BASE).get('/account-info/v3/details').reply(500, { status: 'error', message: 'internal error' });
    const failure = await failureOf(connector().searchModifiedContacts(0, undefined));
    expect(failure).toMatchObject({ status: 429, policy: 'DAILY' });
    expect(failure.resetAt).toBeUndefined();
  });
});

describe('error bodies on the calls the SDK has no typed API for', () => {
  pinRequests();

  it('form submissions: a 403 keeps its category and message', async () => {
    nock(BASE)
      .get('/form-integrations/v1/submissions/forms/0a1b2c3d')
      .query(true)
      .reply(403, {
        status: 'error',
        message:
          "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
        correlationId: '00000000-0000-4000-8000-000000000000',
        errors: [
          {
            message: 'One or more of the following scopes are required.',
            context: { requiredGranularScopes: ['forms'] },
          },
        ],
        links: { scopes: 'https://developers.hubspot.com/scopes' },
        category: 'MISSING_SCOPES',
      });
    const failure = await failureOf(connector().formSubmissions('0a1b2c3d', undefined));
    expect(failure).toMatchObject({ status: 403, code: 'MISSING_SCOPES' });
    expect(failure.message).toContain("This app hasn't been granted all required scopes");
    expect(classifyFailure(failure, Date.now()).action).toBe('fail');
  });

  it('marketing event participations: a ten-secondly 429 keeps its policy and wait', async () => {
    nock(BASE).get('/marketing/v3/marketing-events/participations/zoom/w-1/breakdown').query(true).reply(
      429,
      {
        status: 'error',
        errorType: 'RATE_LIMIT',
        policyName: 'TEN_SECONDLY_ROLLING',
        message: 'slow down',
      },
      { 'Retry-After': '2' },
    );
    const failure = await failureOf(connector().eventParticipations('zoom', 'w-1', undefined));
    expect(failure).toMatchObject({
      status: 429,
      code: 'RATE_LIMIT',
      policy: 'TEN_SECONDLY_ROLLING',
      retryAfterMs: 2_000,
      message: 'read participations of w-1: slow down',
    });
  });
});
