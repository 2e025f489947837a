import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Matcher, Scoring } from '../../src/config/schema.js';
import type { EngagementEvent, Profile, PropertyValue, Score } from '../../src/domain/index.js';
import { computeScore, matches } from '../../src/scoring/index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 5, 1);

const FIELDS = ['jobTitle', 'industry', 'companySize', 'country'] as const;
const VALUES: PropertyValue[] = [
  'VP Sales',
  'Student',
  'COMPUTER_SOFTWARE',
  'canada',
  '250',
  '100-500',
  '10000+',
  42,
  10_000,
  true,
  'true',
  null,
  '',
];
const MATCHERS = [
  { contains: 'vp' },
  { regex: '^(vp|director)\\b', flags: 'i' },
  { in: ['Canada', 'Germany'] },
  { equals: 'computer_software' },
  { equals: true },
  { min: 50, max: 5000 },
  { max: 100 },
];
const TYPES = ['page_view', 'email_open', 'form_submission', 'demo_request'];
const WHERES = [{}, {}, { url: { contains: 'pricing' } }, { url: { regex: '^/blog' } }];
const URLS: PropertyValue[] = ['/pricing', '/blog/scoring', '/PRICING/team', '/', null];

const points = fc.oneof(fc.integer({ min: -100, max: 100 }), fc.double({ min: -100, max: 100, noNaN: true }));
const positive = (max: number) => fc.double({ min: 0.25, max, noNaN: true });

const rawRules = fc.record({
  fit: fc.array(
    fc.record({
      field: fc.constantFrom(...FIELDS),
      match: fc.constantFrom(...MATCHERS),
      points: fc.integer({ min: -100, max: 100 }),
    }),
    { maxLength: 8 },
  ),
  engagement: fc.array(
    fc.record({
      event: fc.constantFrom(...TYPES),
      where: fc.constantFrom(...WHERES),
      points,
      cap: fc.option(positive(200), { nil: undefined }),
      decay: fc.option(
        fc.oneof(
          fc.record({ halfLifeDays: positive(120) }),
          fc.record({ windowDays: fc.integer({ min: 1, max: 120 }) }),
        ),
        { nil: undefined },
      ),
    }),
    { maxLength: 8 },
  ),
  caps: fc.record({ fit: fc.integer({ min: 0, max: 100 }), engagement: fc.integer({ min: 0, max: 100 }) }),
});
type RawRules = typeof rawRules extends fc.Arbitrary<infer T> ? T : never;

/** Parsed afresh every time, so no test leans on a cache keyed by rule objects. */
function parse(raw: RawRules): Scoring {
  return Scoring.parse({
    fit: raw.fit.map((r, i) => ({ id: `f${i}`, ...r })),
    engagement: raw.engagement.map((r, i) => ({ id: `e${i}`, ...r })),
    caps: raw.caps,
  });
}

const rules = rawRules.map(parse);
const nonNegativeRules = rawRules.map((raw) =>
  parse({ ...raw, engagement: raw.engagement.map((r) => ({ ...r, points: Math.abs(r.points) })) }),
);

const profile: fc.Arbitrary<Profile> = fc.record(
  Object.fromEntries(FIELDS.map((f) => [f, fc.constantFrom(...VALUES)])) as Record<
    (typeof FIELDS)[number],
    fc.Arbitrary<PropertyValue>
  >,
  { requiredKeys: [] },
);

// Few ids, so the same id often turns up with different content.
const event: fc.Arbitrary<EngagementEvent> = fc.record({
  id: fc.integer({ min: 0, max: 25 }).map((n) => `hubspot:${n}`),
  lead: fc.constant({ crm: 'hubspot' as const, objectType: 'contact' as const, id: '1' }),
  type: fc.constantFrom(...TYPES),
  // A few shared instants, so events sharing an id can also share a time.
  occurredAt: fc.oneof(
    fc.integer({ min: NOW - 200 * DAY, max: NOW + 2 * DAY }),
    fc.integer({ min: NOW - 30 * DAY, max: NOW }),
    fc.constantFrom(NOW - 30 * DAY, NOW - DAY, NOW),
  ),
  source: fc.constant('hubspot'),
  properties: fc.record({ url: fc.constantFrom(...URLS) }, { requiredKeys: [] }),
});
const events = fc.array(event, { maxLength: 40 });
const now = fc.oneof(
  fc.integer({ min: NOW, max: NOW + 7 * DAY }),
  fc.integer({ min: NOW - 10 * DAY, max: NOW + 200 * DAY }),
);
/** How much later a second look happens: often soon, sometimes much later. */
const later = fc.oneof(
  fc.integer({ min: 0, max: DAY }),
  fc.integer({ min: 0, max: 30 * DAY }),
  fc.integer({ min: 0, max: 400 * DAY }),
);

const round2 = (n: number) => Math.round(n * 100) / 100;
const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** A slow, obvious model of engagement lines: ruleId → points before rounding and the ids counted. */
function modelEngagement(r: Scoring, evs: EngagementEvent[], at: number) {
  const byId = new Map<string, EngagementEvent>();
  for (const e of evs) {
    const kept = byId.get(e.id);
    const better =
      !kept ||
      e.occurredAt < kept.occurredAt ||
      (e.occurredAt === kept.occurredAt && JSON.stringify(e) < JSON.stringify(kept));
    if (better) byId.set(e.id, e);
  }
  const result = new Map<string, { raw: number; ids: Set<string> }>();
  for (const rule of r.engagement) {
    let raw = 0;
    const ids = new Set<string>();
    for (const e of byId.values()) {
      if (e.type !== rule.event) continue;
      if (!Object.entries(rule.where).every(([k, m]) => matches(m, e.properties[k]))) continue;
      const age = Math.max(0, at - e.occurredAt);
      const factor = rule.decay?.halfLifeDays
        ? 0.5 ** (age / (rule.decay.halfLifeDays * DAY))
        : rule.decay?.windowDays
          ? age <= rule.decay.windowDays * DAY
            ? 1
            : 0
          : 1;
      if (factor === 0 || rule.points === 0) continue;
      raw += rule.points * factor;
      ids.add(e.id);
    }
    result.set(rule.id, { raw, ids });
  }
  return result;
}

function linePoints(s: Score, ruleId: string): number {
  return s.breakdown.find((l) => l.ruleId === ruleId)?.points ?? 0;
}

function shuffledWithCopies(evs: EngagementEvent[]) {
  return fc
    .tuple(fc.subarray(evs), fc.shuffledSubarray(evs, { minLength: evs.length, maxLength: evs.length }))
    .chain(([copies, shuffled]) => {
      const all = [...shuffled, ...copies.map((e) => structuredClone(e))];
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
    });
}

describe('computeScore properties', () => {
  it('keeps total an integer in 0–100 and each half within its floor and cap', () => {
    fc.assert(
      fc.property(rules, profile, events, now, (r, p, evs, at) => {
        const s = computeScore(p, evs, r, at);
        expect(Number.isInteger(s.total)).toBe(true);
        expect(s.total).toBeGreaterThanOrEqual(0);
        expect(s.total).toBeLessThanOrEqual(100);
        expect(s.fit).toBeGreaterThanOrEqual(-100);
        expect(s.fit).toBeLessThanOrEqual(r.caps.fit);
        expect(s.engagement).toBeGreaterThanOrEqual(-100);
        expect(s.engagement).toBeLessThanOrEqual(r.caps.engagement);
        expect(s.breakdown.every((l) => l.points !== 0)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('accounts for every point in the breakdown, and the figures follow from the lines', () => {
    fc.assert(
      fc.property(rules, profile, events, now, (r, p, evs, at) => {
        const s = computeScore(p, evs, r, at);
        const fitLines = s.breakdown.filter((l) => l.kind === 'fit');
        const engagementLines = s.breakdown.filter((l) => l.kind === 'engagement');

        const uncappedFit = sum(r.fit.filter((f) => matches(f.match, p[f.field])).map((f) => f.points));
        expect(sum(fitLines.map((l) => l.points))).toBe(uncappedFit);
        expect(s.fit).toBe(clamp(uncappedFit, -100, r.caps.fit));

        const model = modelEngagement(r, evs, at);
        for (const rule of r.engagement) {
          const { raw, ids } = model.get(rule.id)!;
          const expected = rule.cap !== undefined ? clamp(raw, -rule.cap, rule.cap) : raw;
          const line = engagementLines.find((l) => l.ruleId === rule.id);
          expect(Math.abs(linePoints(s, rule.id) - expected)).toBeLessThanOrEqual(0.005 + 1e-9);
          if (line) {
            expect(new Set(line.eventIds)).toEqual(ids);
            expect(line.eventIds).toHaveLength(ids.size);
            // Summation order may move a sum sitting exactly on the cap by an ulp; judge only clear cases.
            if (rule.cap === undefined) expect(line.capped).toBe(false);
            else if (Math.abs(Math.abs(raw) - rule.cap) > 1e-9)
              expect(line.capped).toBe(Math.abs(raw) > rule.cap);
          }
        }
        const engagementSum = sum(engagementLines.map((l) => l.points));
        expect(s.engagement).toBe(clamp(round2(engagementSum), -100, r.caps.engagement));
        expect(s.total).toBe(Math.round(clamp(s.fit + s.engagement, 0, 100)));

        const order = [...s.breakdown].sort(
          (a, b) => Math.abs(b.points) - Math.abs(a.points) || (a.ruleId < b.ruleId ? -1 : 1),
        );
        expect(s.breakdown.map((l) => l.ruleId)).toEqual(order.map((l) => l.ruleId));
      }),
      { numRuns: 300 },
    );
  });

  it('never raises engagement as time passes when no rule has negative points', () => {
    fc.assert(
      fc.property(nonNegativeRules, events, now, later, (r, evs, at, delay) => {
        const before = computeScore({}, evs, r, at);
        const after = computeScore({}, evs, r, at + delay);
        expect(after.engagement).toBeLessThanOrEqual(before.engagement);
        expect(after.total).toBeLessThanOrEqual(before.total);
        for (const rule of r.engagement)
          expect(linePoints(after, rule.id)).toBeLessThanOrEqual(linePoints(before, rule.id));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same score whatever the order of events', () => {
    fc.assert(
      fc.property(
        rules,
        profile,
        events.chain((evs) =>
          fc.tuple(
            fc.constant(evs),
            fc.shuffledSubarray(evs, { minLength: evs.length, maxLength: evs.length }),
          ),
        ),
        now,
        (r, p, [evs, shuffled], at) => {
          expect(computeScore(p, shuffled, r, at)).toEqual(computeScore(p, evs, r, at));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('counts an event delivered several times once', () => {
    fc.assert(
      fc.property(
        rules,
        profile,
        events.chain((evs) => fc.tuple(fc.constant(evs), shuffledWithCopies(evs))),
        now,
        (r, p, [evs, redelivered], at) => {
          expect(computeScore(p, redelivered, r, at)).toEqual(computeScore(p, evs, r, at));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is deterministic: equal inputs, even as fresh objects, give equal scores', () => {
    fc.assert(
      fc.property(rawRules, profile, events, now, (raw, p, evs, at) => {
        const first = computeScore(p, evs, parse(raw), at);
        expect(computeScore(structuredClone(p), structuredClone(evs), parse(raw), at)).toEqual(first);
        expect(computeScore(p, evs, parse(raw), at)).toEqual(first);
      }),
    );
  });
});

describe('numeric rules on count bands ("100-500", "10000+")', () => {
  const count = fc.integer({ min: 0, max: 1_000_000 });
  const band = fc.tuple(count, count).map(([a, b]) => ({ low: Math.min(a, b), high: Math.max(a, b) }));
  const bound = fc.option(fc.integer({ min: -10, max: 1_000_010 }), { nil: undefined });
  const numericRule = fc
    .record({ min: bound, max: bound })
    .filter(
      ({ min, max }) => (min ?? max) !== undefined && !(min !== undefined && max !== undefined && min > max),
    )
    .map((m) => Matcher.parse(Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined))));
  const text = ({ low, high }: { low: number; high: number }) => `${low}-${high}`;

  it('a bounded band matches exactly when its midpoint does', () => {
    fc.assert(
      fc.property(numericRule, band, (rule, b) => {
        expect(matches(rule, text(b))).toBe(matches(rule, (b.low + b.high) / 2));
      }),
    );
  });

  it('an open-ended band "N+" matches exactly when N does', () => {
    fc.assert(
      fc.property(numericRule, count, (rule, n) => {
        expect(matches(rule, `${n}+`)).toBe(matches(rule, n));
      }),
    );
  });

  it('a band inside a rule always matches; a band wholly outside never does', () => {
    fc.assert(
      fc.property(numericRule, band, (rule, b) => {
        const min = rule.min ?? -Infinity;
        const max = rule.max ?? Infinity;
        if (min <= b.low && b.high <= max) expect(matches(rule, text(b))).toBe(true);
        if (b.high < min || b.low > max) expect(matches(rule, text(b))).toBe(false);
      }),
    );
  });

  it('rules splitting numbers into disjoint tiers put a band in at most one tier', () => {
    const cuts = fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(
        cuts,
        fc.oneof(
          band.map(text),
          count.map((n) => `${n}+`),
        ),
        (raw, value) => {
          const edges = [...raw].sort((a, b) => a - b);
          // (…, e0 - ½], [e0, e1 - ½], …, [eN, …): tiers that never overlap.
          const tiers = [undefined, ...edges].map((from, i) => {
            const to = edges[i];
            return Matcher.parse({
              ...(from === undefined ? {} : { min: from }),
              ...(to === undefined ? {} : { max: to - 0.5 }),
            });
          });
          expect(tiers.filter((tier) => matches(tier, value)).length).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});
