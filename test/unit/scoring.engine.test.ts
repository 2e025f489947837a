import { describe, expect, it } from 'vitest';
import { Scoring } from '../../src/config/schema.js';
import type { EngagementEvent, Profile, PropertyValue, Score } from '../../src/domain/index.js';
import { computeScore } from '../../src/scoring/index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 5, 1, 12);

let seq = 0;
function ev(
  type: string,
  daysAgo: number,
  properties: Record<string, PropertyValue> = {},
  id = `e${++seq}`,
): EngagementEvent {
  return {
    id,
    lead: { crm: 'hubspot', objectType: 'contact', id: '1' },
    type,
    occurredAt: NOW - Math.round(daysAgo * DAY),
    source: 'test',
    properties,
  };
}

function score(rules: unknown, events: EngagementEvent[] = [], profile: Profile = {}, now = NOW): Score {
  return computeScore(profile, events, Scoring.parse(rules), now);
}

function line(s: Score, ruleId: string) {
  return s.breakdown.find((l) => l.ruleId === ruleId);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const FIT = {
  fit: [
    {
      id: 'title-decision-maker',
      field: 'jobTitle',
      match: { regex: '\\b(vp|director)\\b', flags: 'i' },
      points: 20,
    },
    { id: 'industry-target', field: 'industry', match: { in: ['COMPUTER_SOFTWARE'] }, points: 10 },
    { id: 'company-size', field: 'companySize', match: { min: 50, max: 5000 }, points: 10 },
    { id: 'student', field: 'jobTitle', match: { regex: '\\bstudent\\b', flags: 'i' }, points: -25 },
  ],
};

describe('computeScore: fit', () => {
  it.each<[string, Profile, number, string[]]>([
    ['no fields', {}, 0, []],
    ['decision maker', { jobTitle: 'VP Marketing' }, 20, ['title-decision-maker']],
    [
      'decision maker in target industry, mid-market as a string',
      { jobTitle: 'Director of Ops', industry: 'computer_software', companySize: '420' },
      40,
      ['title-decision-maker', 'company-size', 'industry-target'],
    ],
    ['student alone is negative', { jobTitle: 'Student' }, -25, ['student']],
    [
      'student VP nets out',
      { jobTitle: 'VP student', companySize: 100 },
      5,
      ['student', 'title-decision-maker', 'company-size'],
    ],
    ['null and out-of-range values', { jobTitle: null, companySize: 10 }, 0, []],
  ])('%s', (_name, profile, fit, ruleIds) => {
    const s = score(FIT, [], profile);
    expect(s.fit).toBe(fit);
    expect(s.total).toBe(Math.max(0, fit));
    expect(s.breakdown.map((l) => l.ruleId)).toEqual(ruleIds);
    expect(s.breakdown.every((l) => l.kind === 'fit' && l.eventIds.length === 0 && !l.capped)).toBe(true);
  });

  it('explains a fit line with the field, the value and the rule', () => {
    const s = score(FIT, [], { jobTitle: 'VP Marketing', companySize: 250 });
    expect(line(s, 'title-decision-maker')?.reason).toBe(
      'Job title "VP Marketing" matches title-decision-maker (+20)',
    );
    expect(line(s, 'company-size')?.reason).toBe('Company size 250 matches company-size (+10)');
  });

  it('uses the description as the label and shows negative points', () => {
    const s = score(
      {
        fit: [
          {
            id: 'student',
            description: 'a student',
            field: 'jobTitle',
            match: { contains: 'student' },
            points: -25,
          },
        ],
      },
      [],
      { jobTitle: 'PhD Student' },
    );
    expect(line(s, 'student')?.reason).toBe('Job title "PhD Student" matches a student (-25)');
    expect(line(s, 'student')?.points).toBe(-25);
  });

  it('counts a rule once however the value matches', () => {
    const s = score(
      { fit: [{ id: 'vp', field: 'jobTitle', match: { regex: 'vp', flags: 'i' }, points: 20 }] },
      [],
      { jobTitle: 'VP, vp, Vp' },
    );
    expect(s.fit).toBe(20);
    expect(s.breakdown).toHaveLength(1);
  });

  it('caps fit at caps.fit but keeps every line', () => {
    const s = score({ ...FIT, caps: { fit: 30 } }, [], {
      jobTitle: 'VP',
      industry: 'COMPUTER_SOFTWARE',
      companySize: 100,
    });
    expect(s.fit).toBe(30);
    expect(sum(s.breakdown.map((l) => l.points))).toBe(40);
  });

  it('floors fit at -100', () => {
    const rules = {
      fit: ['a', 'b', 'c'].map((id) => ({ id, field: 'email', match: { contains: '@' }, points: -50 })),
    };
    const s = score(rules, [], { email: 'x@gmail.com' });
    expect(s.fit).toBe(-100);
    expect(sum(s.breakdown.map((l) => l.points))).toBe(-150);
    expect(s.total).toBe(0);
  });

  it('omits rules worth zero points', () => {
    const s = score({ fit: [{ id: 'zero', field: 'x', match: { equals: 1 }, points: 0 }] }, [], { x: 1 });
    expect(s.breakdown).toEqual([]);
  });

  it('only looks at the profile’s own fields', () => {
    const rules = {
      fit: [{ id: 'proto', field: 'constructor', match: { contains: 'function' }, points: 10 }],
    };
    expect(score(rules, [], {}).fit).toBe(0);
  });
});

describe('computeScore: engagement', () => {
  const pricing = {
    id: 'pricing-page',
    event: 'page_view',
    where: { url: { contains: '/pricing' } },
    points: 8,
    cap: 24,
    decay: { halfLifeDays: 14 },
  };

  it.each<[string, Record<string, unknown>, number[], number]>([
    ['half-life: fresh event counts fully', { halfLifeDays: 14 }, [0], 10],
    ['half-life: one half-life old gives half', { halfLifeDays: 14 }, [14], 5],
    ['half-life: two half-lives old gives a quarter', { halfLifeDays: 14 }, [28], 2.5],
    ['half-life: rounded to cents', { halfLifeDays: 7 }, [1], 9.06],
    ['half-life: sums decayed events', { halfLifeDays: 14 }, [0, 14, 28], 17.5],
    ['window: inside counts fully', { windowDays: 30 }, [29.5], 10],
    ['window: on the edge counts', { windowDays: 30 }, [30], 10],
    ['window: outside counts nothing', { windowDays: 30 }, [31], 0],
    ['window: mixed', { windowDays: 30 }, [1, 10, 31, 90], 20],
    ['no decay: a year old counts fully', {}, [365], 10],
  ])('%s', (_name, decay, ages, expected) => {
    const rule = { id: 'r', event: 'e', points: 10, ...(Object.keys(decay).length ? { decay } : {}) };
    const s = score(
      { engagement: [rule] },
      ages.map((a) => ev('e', a)),
    );
    expect(s.engagement).toBe(expected);
    expect(line(s, 'r')?.points ?? 0).toBe(expected);
  });

  it('omits a rule whose events all fell out of the window, and lists no event', () => {
    const s = score({ engagement: [{ id: 'r', event: 'e', points: 10, decay: { windowDays: 7 } }] }, [
      ev('e', 8),
      ev('e', 40),
    ]);
    expect(s.breakdown).toEqual([]);
    expect(s.engagement).toBe(0);
  });

  it('lists only contributing events, oldest first', () => {
    const events = [
      ev('e', 2, {}, 'b'),
      ev('e', 40, {}, 'old'),
      ev('e', 5, {}, 'a'),
      ev('other', 1, {}, 'x'),
    ];
    const s = score({ engagement: [{ id: 'r', event: 'e', points: 1, decay: { windowDays: 30 } }] }, events);
    expect(line(s, 'r')?.eventIds).toEqual(['a', 'b']);
  });

  it('caps a rule and says so', () => {
    const events = [0, 1, 2, 3, 4].map((d) => ev('page_view', d, { url: 'https://acme.example/pricing' }));
    const s = score({ engagement: [{ ...pricing, decay: undefined }] }, events);
    const l = line(s, 'pricing-page');
    expect(l?.points).toBe(24);
    expect(l?.capped).toBe(true);
    expect(l?.eventIds).toHaveLength(5);
    expect(l?.reason).toBe('5× page_view (url contains "/pricing") in the last 4 days: +24 (capped at 24)');
  });

  it('does not mark a rule under its cap as capped', () => {
    const s = score({ engagement: [pricing] }, [ev('page_view', 0, { url: '/pricing' })]);
    expect(line(s, 'pricing-page')).toMatchObject({ points: 8, capped: false });
    expect(line(s, 'pricing-page')?.reason).toBe(
      '1× page_view (url contains "/pricing") in the last 1 day: +8',
    );
  });

  it('writes a readable reason with decayed points and the age of the oldest event', () => {
    const events = [
      ev('page_view', 12, { url: '/pricing' }),
      ev('page_view', 3, { url: '/pricing' }),
      ev('page_view', 1, { url: '/pricing' }),
    ];
    const s = score({ engagement: [pricing] }, events);
    const expected = 8 * (0.5 ** (12 / 14) + 0.5 ** (3 / 14) + 0.5 ** (1 / 14));
    expect(line(s, 'pricing-page')?.points).toBe(Math.round(expected * 100) / 100);
    expect(line(s, 'pricing-page')?.reason).toBe(
      `3× page_view (url contains "/pricing") in the last 12 days: +${Math.round(expected * 100) / 100}`,
    );
  });

  it.each<[number[], string]>([
    [[0], 'in the last 1 day'],
    [[0.2], 'in the last 1 day'],
    [[2.5, 0.5], 'in the last 3 days'],
    [[1, 7], 'in the last 7 days'],
  ])('describes events aged %j days as "%s"', (ages, text) => {
    const s = score(
      { engagement: [{ id: 'r', event: 'e', points: 1 }] },
      ages.map((a) => ev('e', a)),
    );
    expect(line(s, 'r')?.reason).toBe(`${ages.length}× e ${text}: +${ages.length}`);
  });

  it('uses the description as the label', () => {
    const s = score({ engagement: [{ ...pricing, description: 'Visited pricing' }] }, [
      ev('page_view', 0, { url: '/pricing' }),
    ]);
    expect(line(s, 'pricing-page')?.reason).toBe('1× Visited pricing in the last 1 day: +8');
  });

  it('counts negative rules and caps them by absolute value', () => {
    const rules = {
      engagement: [
        { id: 'views', event: 'page_view', points: 10 },
        { id: 'unsubscribed', event: 'email_unsubscribe', points: -20, cap: 30 },
      ],
    };
    const s = score(rules, [ev('page_view', 1), ev('email_unsubscribe', 1), ev('email_unsubscribe', 2)]);
    expect(line(s, 'unsubscribed')).toMatchObject({ points: -30, capped: true });
    expect(line(s, 'unsubscribed')?.reason).toBe(
      '2× email_unsubscribe in the last 2 days: -30 (capped at -30)',
    );
    expect(s.engagement).toBe(-20);
    expect(s.total).toBe(0);
  });

  it.each<[string, Record<string, PropertyValue>, boolean]>([
    ['all conditions hold', { url: '/pricing', utm: 'ads' }, true],
    ['case-insensitive', { url: '/PRICING', utm: 'ADS' }, true],
    ['one condition fails', { url: '/pricing', utm: 'email' }, false],
    ['property missing', { url: '/pricing' }, false],
    ['property null', { url: '/pricing', utm: null }, false],
    ['no properties', {}, false],
  ])('where filter: %s', (_name, properties, counted) => {
    const rules = {
      engagement: [
        {
          id: 'r',
          event: 'page_view',
          where: { url: { contains: 'pricing' }, utm: { equals: 'ads' } },
          points: 5,
        },
      ],
    };
    expect(score(rules, [ev('page_view', 0, properties)]).engagement).toBe(counted ? 5 : 0);
  });

  it('ignores events of other types', () => {
    const s = score({ engagement: [pricing] }, [ev('form_submission', 0, { url: '/pricing' })]);
    expect(s.breakdown).toEqual([]);
  });

  it('lets one event count for every rule it matches', () => {
    const rules = {
      engagement: [pricing, { id: 'page-view', event: 'page_view', points: 1 }],
    };
    const e = ev('page_view', 0, { url: '/pricing' });
    const s = score(rules, [e]);
    expect(s.engagement).toBe(9);
    expect(line(s, 'pricing-page')?.eventIds).toEqual([e.id]);
    expect(line(s, 'page-view')?.eventIds).toEqual([e.id]);
  });

  it('counts an event id once, however often it is delivered', () => {
    const e = ev('page_view', 0, { url: '/pricing' });
    const s = score({ engagement: [pricing] }, [e, { ...e }, e]);
    expect(s.engagement).toBe(8);
    expect(line(s, 'pricing-page')?.eventIds).toEqual([e.id]);
  });

  it('keeps the earliest of two different events sharing an id, whatever the order', () => {
    const early = ev('e', 14, {}, 'same');
    const late = ev('e', 0, {}, 'same');
    const rules = { engagement: [{ id: 'r', event: 'e', points: 10, decay: { halfLifeDays: 14 } }] };
    expect(score(rules, [early, late]).engagement).toBe(5);
    expect(score(rules, [late, early]).engagement).toBe(5);
  });

  it('picks the same one of two different events sharing an id and a time, whatever the order', () => {
    const view = ev('page_view', 1, { url: '/pricing' }, 'same');
    const form = { ...ev('form_submission', 1, {}, 'same'), occurredAt: view.occurredAt };
    const rules = {
      engagement: [
        { id: 'views', event: 'page_view', points: 5 },
        { id: 'forms', event: 'form_submission', points: 10 },
      ],
    };
    const a = score(rules, [view, form]);
    expect(a.breakdown).toHaveLength(1);
    expect(score(rules, [form, view])).toEqual(a);
  });

  it('counts events from the future fully', () => {
    const s = score({ engagement: [{ id: 'r', event: 'e', points: 10, decay: { halfLifeDays: 1 } }] }, [
      ev('e', -3),
    ]);
    expect(s.engagement).toBe(10);
  });

  it('caps engagement at caps.engagement and floors it at -100, keeping the lines', () => {
    const big = { id: 'big', event: 'e', points: 60 };
    const capped = score({ engagement: [big], caps: { engagement: 70 } }, [ev('e', 0), ev('e', 1)]);
    expect(capped.engagement).toBe(70);
    expect(line(capped, 'big')?.points).toBe(120);
    const floored = score({ engagement: [{ ...big, points: -60 }] }, [ev('e', 0), ev('e', 1)]);
    expect(floored.engagement).toBe(-100);
    expect(line(floored, 'big')?.points).toBe(-120);
  });

  it('does not reorder or change the caller’s events', () => {
    const events = [ev('e', 1, {}, 'z'), ev('e', 3, {}, 'y'), ev('e', 1, {}, 'z')];
    const copy = structuredClone(events);
    score({ engagement: [{ id: 'r', event: 'e', points: 1 }] }, events);
    expect(events).toEqual(copy);
  });
});

describe('computeScore: total and breakdown', () => {
  const rules = {
    caps: { fit: 50, engagement: 70 },
    fit: [
      { id: 'vp', field: 'jobTitle', match: { contains: 'vp' }, points: 30 },
      { id: 'size', field: 'companySize', match: { min: 10 }, points: 30 },
      { id: 'student', field: 'jobTitle', match: { contains: 'student' }, points: -40 },
    ],
    engagement: [
      { id: 'demo', event: 'demo_request', points: 40, decay: { halfLifeDays: 14 } },
      { id: 'webinar', event: 'webinar', points: 30 },
      { id: 'unsub', event: 'unsub', points: -30 },
    ],
  };

  it.each<[string, Profile, string[], { fit: number; engagement: number; total: number }]>([
    ['nothing', {}, [], { fit: 0, engagement: 0, total: 0 }],
    ['clamped at 0', { jobTitle: 'student' }, ['unsub'], { fit: -40, engagement: -30, total: 0 }],
    [
      'clamped at 100 after category caps',
      { jobTitle: 'vp', companySize: 500 },
      ['demo', 'webinar', 'webinar2'],
      { fit: 50, engagement: 70, total: 100 },
    ],
    ['a decayed hand-raise', { jobTitle: 'vp' }, ['demo14'], { fit: 30, engagement: 20, total: 50 }],
    [
      'negative engagement pulls fit down',
      { jobTitle: 'vp', companySize: 20 },
      ['unsub'],
      { fit: 50, engagement: -30, total: 20 },
    ],
  ])('%s', (_name, profile, kinds, expected) => {
    const events = kinds.map((k) =>
      k === 'demo14'
        ? ev('demo_request', 14)
        : k === 'webinar2'
          ? ev('webinar', 3)
          : ev(k === 'demo' ? 'demo_request' : k, 0),
    );
    const s = score(rules, events, profile);
    expect({ fit: s.fit, engagement: s.engagement, total: s.total }).toEqual(expected);
  });

  it('rounds the total half up', () => {
    const r = {
      fit: [{ id: 'f', field: 'x', match: { equals: 1 }, points: 10 }],
      engagement: [{ id: 'e', event: 'e', points: 25, decay: { halfLifeDays: 14 } }],
    };
    const s = score(r, [ev('e', 14)], { x: 1 });
    expect(s.engagement).toBe(12.5);
    expect(s.total).toBe(23);
  });

  it('orders lines by absolute points, then rule id', () => {
    const r = {
      fit: [
        { id: 'b-fit', field: 'x', match: { equals: 1 }, points: 10 },
        { id: 'a-fit', field: 'x', match: { equals: 1 }, points: -10 },
        { id: 'small', field: 'x', match: { equals: 1 }, points: 2 },
      ],
      engagement: [{ id: 'big', event: 'e', points: 15 }],
    };
    const s = score(r, [ev('e', 0)], { x: 1 });
    expect(s.breakdown.map((l) => l.ruleId)).toEqual(['big', 'a-fit', 'b-fit', 'small']);
  });

  it('accounts for every point before caps in the lines', () => {
    const s = score(rules, [ev('demo_request', 3), ev('webinar', 10), ev('webinar', 40), ev('unsub', 2)], {
      jobTitle: 'vp',
      companySize: 20,
    });
    const fitLines = s.breakdown.filter((l) => l.kind === 'fit');
    const engagementLines = s.breakdown.filter((l) => l.kind === 'engagement');
    expect(sum(fitLines.map((l) => l.points))).toBe(60);
    expect(s.fit).toBe(50);
    const engagementSum = sum(engagementLines.map((l) => l.points));
    expect(engagementSum).toBeCloseTo(40 * 0.5 ** (3 / 14) + 60 - 30, 1);
    expect(s.engagement).toBe(Math.round(engagementSum * 100) / 100);
  });

  it('stamps computedAt with now and reads no clock', () => {
    const s = score(rules, [ev('demo_request', 0)], {}, 1234);
    expect(s.computedAt).toBe(1234);
  });
});
