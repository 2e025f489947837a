import { describe, expect, it } from 'vitest';
import { Matcher } from '../../src/config/schema.js';
import type { PropertyValue } from '../../src/domain/index.js';
import { matches } from '../../src/scoring/index.js';
import { EMPLOYEE_RANGES } from '../sandbox/hubspot.js';

type Case = [matcher: Record<string, unknown>, value: PropertyValue | undefined, expected: boolean];

const cases: Record<string, Case[]> = {
  'equals (string)': [
    [{ equals: 'VP' }, 'VP', true],
    [{ equals: 'VP' }, '  vp ', true],
    [{ equals: ' Canada' }, 'CANADA', true],
    [{ equals: 'VP' }, 'VPs', false],
    [{ equals: 'VP' }, '', false],
    [{ equals: 'true' }, true, true],
    [{ equals: 'true' }, false, false],
    [{ equals: '123' }, 123, true],
    [{ equals: '123' }, 124, false],
    [{ equals: '123' }, '123.0', false], // two strings compare as text
  ],
  'equals (number)': [
    [{ equals: 123 }, 123, true],
    [{ equals: 123 }, '123', true],
    [{ equals: 123 }, ' 123 ', true],
    [{ equals: 123 }, '123.0', true],
    [{ equals: 123 }, '123abc', false],
    [{ equals: 123 }, 124, false],
    [{ equals: 0 }, '', false],
    [{ equals: 0 }, ' ', false],
    [{ equals: 0 }, false, false],
    [{ equals: 1 }, true, false],
  ],
  'equals (boolean)': [
    [{ equals: true }, true, true],
    [{ equals: true }, 'true', true],
    [{ equals: true }, ' TRUE ', true],
    [{ equals: true }, false, false],
    [{ equals: true }, 'false', false],
    [{ equals: true }, 'yes', false],
    [{ equals: true }, 1, false],
    [{ equals: false }, 'False', true],
    [{ equals: false }, '', false],
    [{ equals: false }, 0, false],
  ],
  in: [
    [{ in: ['United States', 'Canada'] }, 'canada', true],
    [{ in: ['United States', 'Canada'] }, ' united states', true],
    [{ in: ['United States', 'Canada'] }, 'Mexico', false],
    [{ in: ['a', 2] }, '2', true],
    [{ in: ['a', 2] }, 2, true],
    [{ in: ['a', 2] }, 3, false],
    [{ in: ['10', 'x'] }, 10, true],
    [{ in: ['10', 'x'] }, true, false],
    [{ in: ['true'] }, true, true],
  ],
  contains: [
    [{ contains: '/pricing' }, 'https://acme.example/pricing', true],
    [{ contains: '/pricing' }, 'https://acme.example/PRICING/enterprise', true],
    [{ contains: '/PRICING' }, '/pricing', true],
    [{ contains: '/pricing' }, 'https://acme.example/price', false],
    [{ contains: '12' }, 3120, true],
    [{ contains: 'ru' }, true, true],
    [{ contains: 'x' }, '', false],
  ],
  regex: [
    [{ regex: '\\bmanager\\b', flags: 'i' }, 'Sales Manager', true],
    [{ regex: '\\bmanager\\b' }, 'Sales Manager', false],
    [{ regex: '\\bmanager\\b', flags: 'i' }, 'Management', false],
    [{ regex: '^\\d{3}$' }, 123, true],
    [{ regex: '^\\d{3}$' }, 1234, false],
    [{ regex: '^true$' }, true, true],
    [{ regex: '@(gmail|yahoo)\\.', flags: 'i' }, 'dana@GMAIL.com', true],
  ],
  'min/max': [
    [{ min: 50, max: 5000 }, 420, true],
    [{ min: 50, max: 5000 }, '420', true],
    [{ min: 50, max: 5000 }, ' 420 ', true],
    [{ min: 50, max: 5000 }, 50, true],
    [{ min: 50, max: 5000 }, 5000, true],
    [{ min: 50, max: 5000 }, 49.99, false],
    [{ min: 50, max: 5000 }, '5001', false],
    [{ min: 50, max: 5000 }, '1,000', false],
    [{ min: 50, max: 5000 }, 'many', false],
    [{ min: 0 }, '', false],
    [{ min: 0 }, ' ', false],
    [{ min: 0 }, '0', true],
    [{ min: 0 }, -1, false],
    [{ min: 0 }, false, false],
    [{ max: 10 }, -5, true],
    [{ max: 10 }, 10.5, false],
  ],
  // A band meets min/max through its midpoint; an open-ended band through its floor.
  'min/max on a band (HubSpot numemployees)': [
    [{ min: 50 }, '100-500', true],
    [{ min: 50, max: 5000 }, '100-500', true],
    [{ min: 50, max: 5000 }, ' 50 - 100 ', true],
    [{ min: 50, max: 5000 }, '50–100', true],
    [{ min: 50, max: 5000 }, '25-50', false], // shares its top with the rule's floor, midpoint 37.5
    [{ min: 50, max: 5000 }, '5000-10000', false],
    [{ min: 50, max: 5000 }, '1-5', false],
    [{ min: 300, max: 300 }, '100-500', true],
    [{ min: 301 }, '100-500', false],
    [{ min: 10000 }, '10000+', true],
    [{ min: 10001 }, '10000+', false],
    [{ max: 10000 }, '10000+', true],
    [{ min: 0 }, '500-100', false], // upside down: no band
    [{ min: 0 }, '-5', false],
    [{ min: 0 }, '+', false],
    [{ min: 0 }, '1-5-25', false],
  ],
  'null and missing': [
    [{ equals: 'null' }, null, false],
    [{ in: ['null', 'undefined'] }, undefined, false],
    [{ contains: 'u' }, null, false],
    [{ contains: 'u' }, undefined, false],
    [{ regex: '.*' }, null, false],
    [{ regex: '.*' }, undefined, false],
    [{ max: 10 }, null, false],
    [{ min: 0, max: 10 }, undefined, false],
  ],
};

describe('matches', () => {
  for (const [operator, rows] of Object.entries(cases)) {
    describe(operator, () => {
      it.each(rows)('%j against %j → %s', (raw, value, expected) => {
        expect(matches(Matcher.parse(raw), value)).toBe(expected);
      });
    });
  }

  it("scores HubSpot's default numemployees options against the default mid-market rule (50–5000)", () => {
    const midMarket = Matcher.parse({ min: 50, max: 5000 });
    expect(EMPLOYEE_RANGES.filter((option) => matches(midMarket, option))).toEqual([
      '50-100',
      '100-500',
      '500-1000',
      '1000-5000',
    ]);
  });

  it('gives the same answer on every call for the same matcher', () => {
    const m = Matcher.parse({ regex: 'vp', flags: 'i' });
    expect([matches(m, 'VP'), matches(m, 'VP'), matches(m, 'nope'), matches(m, 'vp')]).toEqual([
      true,
      true,
      false,
      true,
    ]);
  });

  it('is not made stateful by a global flag in a hand-built matcher', () => {
    const m = { regex: 'a', flags: 'g' } as Matcher;
    expect([matches(m, 'a'), matches(m, 'a'), matches(m, 'a')]).toEqual([true, true, true]);
  });

  it('compiles a matcher once and reuses it (matchers are treated as immutable)', () => {
    const m = Matcher.parse({ regex: '^a$' });
    expect(matches(m, 'a')).toBe(true);
    m.regex = '^b$';
    expect(matches(m, 'a')).toBe(true);
    expect(matches(m, 'b')).toBe(false);
    // an equal but distinct object compiles its own
    expect(matches(Matcher.parse({ regex: '^b$' }), 'b')).toBe(true);
  });

  it('never matches with a matcher that has no operator', () => {
    const empty: Matcher = {};
    expect(matches(empty, 'anything')).toBe(false);
  });
});
