import { describe, expect, it } from 'vitest';
import { Routing } from '../../src/config/schema.js';
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
    expect(ruleIds(plan({ country: 'Germany', companySize: 5000 }))).toEqual(['emea-enterprise', 'everyone']);
    // Too small for the enterprise territory.
    expect(ruleIds(plan({ country: 'Germany', companySize: 200 }))).toEqual(['everyone']);
    expect(ruleIds(plan({ state: 'CA', industry: 'COMPUTER_SOFTWARE' }))).toEqual([
      'us-west',
      'software',
      'everyone',
    ]);
    expect(ruleApplies(routing.rules[1]!, {})).toBe(false);
    expect(ruleApplies(routing.rules[4]!, {})).toBe(true);
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
  });

  it('explains the decision in one sentence', () => {
    expect(
      describeDecision(
        routing,
        {
          ownerId: '1',
          ruleId: 'everyone',
          strategy: 'round_robin',
          skipped: [{ repId: '2', ruleId: 'everyone', why: 'out_of_office' }],
        },
        'acme.io',
      ),
    ).toBe(`rule "everyone": Ana's turn in the round robin (weight 2); passed over Ben (out of office)`);
    expect(
      describeDecision(
        routing,
        { ownerId: '5', ruleId: 'accounts', strategy: 'account_owner', skipped: [] },
        'acme.io',
      ),
    ).toBe('rule "accounts": Eli owns acme.io');
    expect(
      describeDecision(routing, { ownerId: null, ruleId: null, strategy: 'none', skipped: [] }, null),
    ).toMatch(/unassigned$/);
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
