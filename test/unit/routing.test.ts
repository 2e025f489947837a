import { describe, expect, it } from 'vitest';
import { Routing, RoutingRule } from '../../src/config/schema.js';
import {
  availability,
  describeDecision,
  emailDomain,
  periods,
  planRouting,
  ruleApplies,
} from '../../src/routing/index.js';

const NOW = Date.UTC(2026, 10, 24, 12); // Tuesday
const routing = Routing.parse({
  reps: [
    { id: '1', name: 'Ana', weight: 2, capacity: { daily: 5 } },
    { id: '2', name: 'Ben', outOfOffice: [{ from: '2026-11-23', to: '2026-11-25' }] },
    { id: '3', name: 'Cleo', active: false },
    { id: '4', name: 'Dev', workingHours: { timeZone: 'Pacific/Auckland' } },
    { id: '5', name: 'Eli' },
  ],
  rules: [
    { id: 'accounts', strategy: 'account_owner' },
    {
      id: 'emea-enterprise',
      strategy: 'round_robin',
      when: { country: { in: ['Germany', 'France'] }, companySize: { min: 1000 } },
      reps: ['4', '5'],
    },
    { id: 'us-west', strategy: 'round_robin', when: { state: { in: ['CA', 'WA', 'OR'] } }, reps: ['2', '5'] },
    {
      id: 'software',
      strategy: 'round_robin',
      when: { industry: { equals: 'COMPUTER_SOFTWARE' } },
      reps: ['1'],
    },
    { id: 'everyone', strategy: 'round_robin', reps: ['1', '2', '3', '4', '5'] },
  ],
  fallbackOwnerId: '99',
});
const plan = (
  profile: Record<string, string | number>,
  over: Partial<Parameters<typeof planRouting>[0]> = {},
) =>
  planRouting({
    profile,
    routing,
    accountOwnerId: null,
    now: NOW,
    exclude: [],
    defaultTimeZone: 'UTC',
    ...over,
  });
const ruleIds = (p: ReturnType<typeof plan>) => p.steps.map((s) => s.ruleId);

describe('routing rules', () => {
  it('territory: country, company size, state and industry select the rules, in config order', () => {
    expect(ruleIds(plan({ country: 'Germany', companySize: 5000 }))).toEqual([
      'emea-enterprise',
      'everyone',
      'fallback',
    ]);
    // Too small for the enterprise territory.
    expect(ruleIds(plan({ country: 'Germany', companySize: 200 }))).toEqual(['everyone', 'fallback']);
    expect(ruleIds(plan({ state: 'CA', industry: 'COMPUTER_SOFTWARE' }))).toEqual([
      'us-west',
      'software',
      'everyone',
      'fallback',
    ]);
    expect(ruleApplies(routing.rules[1]!, {})).toBe(false);
    expect(ruleApplies(routing.rules[4]!, {})).toBe(true);
  });

  it.each([
    [{ companySize: 50 }, true],
    [{ companySize: 199 }, true],
    [{ companySize: 200 }, false],
    [{ companySize: 9 }, false],
    [{ companySize: '50' }, true],
    [{}, false],
  ])('a company size range 10–199 on %o: %s', (profile, applies) => {
    const smb = RoutingRule.parse({
      id: 'smb',
      strategy: 'round_robin',
      when: { companySize: { min: 10, max: 199 } },
      reps: ['1'],
    });
    expect(ruleApplies(smb, profile)).toBe(applies);
  });

  it('skips inactive and out-of-office reps, with the reason', () => {
    const p = plan({});
    const everyone = p.steps.find((s) => s.ruleId === 'everyone');
    expect(everyone?.strategy === 'round_robin' && everyone.candidates.map((c) => c.id)).toEqual([
      '1',
      '4',
      '5',
    ]);
    expect(p.skipped).toEqual([
      { repId: '2', ruleId: 'everyone', why: 'out_of_office' },
      { repId: '3', ruleId: 'everyone', why: 'inactive' },
    ]);
  });

  it('carries weights, caps and the capacity periods in the rep’s own time zone', () => {
    const everyone = plan({}).steps.find((s) => s.ruleId === 'everyone');
    if (everyone?.strategy !== 'round_robin') throw new Error('expected round robin');
    expect(everyone.candidates[0]).toMatchObject({ id: '1', weight: 2, daily: 5, day: 'd:2026-11-24' });
    // 12:00 UTC is already Wednesday 01:00 in Auckland.
    expect(everyone.candidates[1]).toMatchObject({ id: '4', day: 'd:2026-11-25', week: 'w:2026-W48' });
  });

  it('account owner first when available; an absent one is passed over', () => {
    expect(plan({}, { accountOwnerId: '5' }).steps[0]).toEqual({
      ruleId: 'accounts',
      strategy: 'account_owner',
      ownerId: '5',
    });
    // Not a configured rep, but a CRM owner: taken as is.
    expect(plan({}, { accountOwnerId: '777' }).steps[0]).toMatchObject({ ownerId: '777' });
    const away = plan({}, { accountOwnerId: '2' });
    expect(away.steps[0]?.strategy).toBe('round_robin');
    expect(away.skipped[0]).toEqual({ repId: '2', ruleId: 'accounts', why: 'out_of_office' });
  });

  it('excluded reps (who let an SLA lapse) are never candidates', () => {
    const p = plan({}, { exclude: ['1', '5'], accountOwnerId: '5' });
    const everyone = p.steps.find((s) => s.ruleId === 'everyone');
    expect(everyone?.strategy === 'round_robin' && everyone.candidates.map((c) => c.id)).toEqual(['4']);
    expect(p.steps.some((s) => s.strategy === 'account_owner')).toBe(false);
    expect(p.skipped.filter((s) => s.why === 'excluded').map((s) => s.repId)).toEqual(['5', '1', '5']);
  });

  it('out of office is a whole day in the rep’s time zone', () => {
    const rep = { ...routing.reps[3]!, outOfOffice: [{ from: '2026-11-25', to: '2026-11-25' }] };
    // 12:00 UTC on the 24th is the 25th in Auckland, not yet in UTC.
    expect(availability(rep, NOW, 'UTC')).toBe('out_of_office');
    expect(availability({ ...rep, workingHours: undefined }, NOW, 'UTC')).toBe('available');
    // The other way round: 02:00 UTC on the 25th is still the 24th in Los Angeles, so the last day holds.
    const west = { ...rep, outOfOffice: [{ from: '2026-11-20', to: '2026-11-24' }] };
    const lateEvening = Date.UTC(2026, 10, 25, 2);
    expect(availability({ ...west, workingHours: undefined }, lateEvening, 'America/Los_Angeles')).toBe(
      'out_of_office',
    );
    expect(availability({ ...west, workingHours: undefined }, lateEvening, 'UTC')).toBe('available');
    // Inactive outranks an absence.
    expect(availability({ ...west, active: false }, lateEvening, 'UTC')).toBe('inactive');
  });

  it('ends with the fallback owner, who is never excluded; without one the plan may be empty', () => {
    const p = plan({}, { exclude: ['1', '4', '5', '99'] });
    expect(p.steps).toEqual([{ ruleId: 'fallback', strategy: 'fallback', ownerId: '99' }]);
    expect(plan({}, { routing: { ...routing, fallbackOwnerId: undefined } }).steps.at(-1)?.ruleId).toBe(
      'everyone',
    );
    const nobody = plan(
      {},
      { routing: { ...routing, fallbackOwnerId: undefined }, exclude: ['1', '4', '5'] },
    );
    expect(nobody.steps).toEqual([]);
  });
});

describe('the decision', () => {
  const decide = (
    p: ReturnType<typeof plan>,
    chosen: Parameters<typeof describeDecision>[0]['chosen'],
    atCapacity: Parameters<typeof describeDecision>[0]['atCapacity'] = [],
  ) => describeDecision({ routing, plan: p, chosen, atCapacity, domain: 'acme.io' });

  it('round robin: whose turn, with weight, and only the reps skipped by the rules tried', () => {
    const p = plan({ industry: 'COMPUTER_SOFTWARE', state: 'CA' }, { exclude: ['5'] });
    // us-west skipped Ben (away) and Eli (excluded); everyone, never tried, would skip more.
    const d = decide(p, { ruleId: 'software', strategy: 'round_robin', ownerId: '1' });
    expect(d).toEqual({
      ownerId: '1',
      ruleId: 'software',
      strategy: 'round_robin',
      reason: `round robin "software" (weight 2): Ana's turn; skipped Ben (out of office), Eli (excluded)`,
      skipped: [
        { repId: '2', ruleId: 'us-west', why: 'out_of_office' },
        { repId: '5', ruleId: 'us-west', why: 'excluded' },
      ],
    });
  });

  it('account owner, and reps at capacity in rule order', () => {
    const p = plan({}, { accountOwnerId: '5' });
    expect(decide(p, { ruleId: 'accounts', strategy: 'account_owner', ownerId: '5' }).reason).toBe(
      'account owner "accounts": Eli owns acme.io',
    );
    const full = [{ repId: '1', ruleId: 'everyone', why: 'at_capacity' as const }];
    const d = decide(plan({}), { ruleId: 'everyone', strategy: 'round_robin', ownerId: '4' }, full);
    expect(d.skipped.map((s) => `${s.repId}:${s.why}`)).toEqual([
      '2:out_of_office',
      '3:inactive',
      '1:at_capacity',
    ]);
    expect(d.reason).toBe(
      `round robin "everyone" (weight 1): Dev's turn; skipped Ben (out of office), Cleo (inactive), Ana (at capacity)`,
    );
  });

  it('fallback and none list everyone skipped, each rep once per reason', () => {
    const p = plan({ state: 'CA' }, { exclude: ['1', '4', '5'] });
    const fallback = decide(p, { ruleId: 'fallback', strategy: 'fallback', ownerId: '99' });
    expect(fallback).toMatchObject({ ownerId: '99', ruleId: 'fallback', strategy: 'fallback' });
    expect(fallback.skipped).toHaveLength(7);
    expect(fallback.reason).toBe(
      'no rule yielded an available rep: fallback to owner 99; skipped Ben (out of office), ' +
        'Eli (excluded), Ana (excluded), Cleo (inactive), Dev (excluded)',
    );
    const none = decide(p, null);
    expect(none).toMatchObject({ ownerId: null, ruleId: null, strategy: 'none', skipped: fallback.skipped });
    expect(none.reason).toMatch(
      /^no rule yielded an available rep and no fallback owner is set: unassigned;/,
    );
  });
});

describe('periods and domains', () => {
  it.each([
    [Date.UTC(2026, 10, 24), 'UTC', 'd:2026-11-24', 'w:2026-W48'],
    [Date.UTC(2027, 0, 1), 'UTC', 'd:2027-01-01', 'w:2026-W53'],
    [Date.UTC(2026, 0, 1), 'UTC', 'd:2026-01-01', 'w:2026-W01'],
    [Date.UTC(2024, 11, 30), 'UTC', 'd:2024-12-30', 'w:2025-W01'],
    [Date.UTC(2026, 11, 31, 23), 'Asia/Tokyo', 'd:2027-01-01', 'w:2026-W53'],
  ])('%s in %s', (at, tz, day, week) => {
    expect(periods(at, tz)).toEqual({ day, week });
  });

  it('takes the company domain, not personal mailboxes', () => {
    expect(emailDomain('Ada@Analytical.IO ')).toBe('analytical.io');
    for (const personal of ['a@gmail.com', 'b@yahoo.co.uk', 'c@outlook.com', 'd@gmx.de', 'e@proton.me'])
      expect(emailDomain(personal), personal).toBeNull();
    for (const bad of ['not an email', 'x@localhost', '', null, 42]) expect(emailDomain(bad)).toBeNull();
  });
});
