import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WorkingHours } from '../../src/config/schema.js';
import { addWorkingMinutes, isWorkingTime, workingMinutesBetween } from '../../src/handoff/sla.js';

const hours = (over: Partial<WorkingHours> = {}) => WorkingHours.parse(over);
const iso = (at: number) => new Date(at).toISOString();
const utc = (s: string) => Date.parse(s);
const due = (from: string, minutes: number, h: WorkingHours) => iso(addWorkingMinutes(utc(from), minutes, h));

describe('addWorkingMinutes', () => {
  // Hours 09:00–17:00 Monday–Friday. Tuesday 2026-11-24; in November New York is UTC−5, Kolkata
  // UTC+05:30, Sydney UTC+11 (summer time).
  it.each([
    ['UTC', 'after 16:50', '2026-11-24T16:50:00Z', '2026-11-25T09:05:00.000Z'],
    ['UTC', 'on Saturday', '2026-11-28T12:00:00Z', '2026-11-30T09:15:00.000Z'],
    ['UTC', 'at 07:00', '2026-11-24T07:00:00Z', '2026-11-24T09:15:00.000Z'],
    ['America/New_York', 'after 16:50', '2026-11-24T21:50:00Z', '2026-11-25T14:05:00.000Z'],
    ['America/New_York', 'on Saturday', '2026-11-28T17:00:00Z', '2026-11-30T14:15:00.000Z'],
    ['America/New_York', 'at 07:00', '2026-11-24T12:00:00Z', '2026-11-24T14:15:00.000Z'],
    ['Asia/Kolkata', 'after 16:50', '2026-11-24T11:20:00Z', '2026-11-25T03:35:00.000Z'],
    ['Asia/Kolkata', 'on Saturday', '2026-11-28T06:30:00Z', '2026-11-30T03:45:00.000Z'],
    ['Asia/Kolkata', 'at 07:00', '2026-11-24T01:30:00Z', '2026-11-24T03:45:00.000Z'],
    ['Australia/Sydney', 'after 16:50', '2026-11-24T05:50:00Z', '2026-11-24T22:05:00.000Z'],
    ['Australia/Sydney', 'on Saturday', '2026-11-28T01:00:00Z', '2026-11-29T22:15:00.000Z'],
    ['Australia/Sydney', 'at 07:00', '2026-11-23T20:00:00Z', '2026-11-23T22:15:00.000Z'],
  ])('%s: a 15-minute handoff %s', (timeZone, _label, from, expected) => {
    expect(due(from, 15, hours({ timeZone }))).toBe(expected);
  });

  it.each([
    ['inside hours', '2026-11-24T10:00:00Z', 15, '2026-11-24T10:15:00.000Z'],
    ['Friday evening → Monday', '2026-11-27T16:30:00Z', 60, '2026-11-30T09:30:00.000Z'],
    ['a whole working day ends at closing', '2026-11-24T09:00:00Z', 480, '2026-11-24T17:00:00.000Z'],
    ['two working days and a bit', '2026-11-24T09:00:00Z', 970, '2026-11-26T09:10:00.000Z'],
    ['0 minutes inside hours is now', '2026-11-24T10:00:30Z', 0, '2026-11-24T10:00:30.000Z'],
    ['0 minutes outside hours is the next opening', '2026-11-24T18:00:00Z', 0, '2026-11-25T09:00:00.000Z'],
  ])('%s', (_label, from, minutes, expected) => {
    expect(due(from, minutes, hours())).toBe(expected);
  });

  it('counts wall-clock working hours across DST changes, both ways', () => {
    // New York springs forward on Sunday 2026-03-08: Friday 16:30 EST + 60 min → Monday 09:30 EDT.
    const ny = hours({ timeZone: 'America/New_York' });
    expect(due('2026-03-06T21:30:00Z', 60, ny)).toBe('2026-03-09T13:30:00.000Z');
    // … and falls back on Sunday 2026-11-01: Friday 16:30 EDT + 60 min → Monday 09:30 EST.
    expect(due('2026-10-30T20:30:00Z', 60, ny)).toBe('2026-11-02T14:30:00.000Z');
    // Berlin falls back on Sunday 2026-10-25: Friday 16:30 CEST + 60 min → Monday 09:30 CET.
    const berlin = hours({ timeZone: 'Europe/Berlin' });
    expect(due('2026-10-23T14:30:00Z', 60, berlin)).toBe('2026-10-26T08:30:00.000Z');
    // … and springs forward on Sunday 2026-03-29: Friday 16:30 CET + 60 min → Monday 09:30 CEST.
    expect(due('2026-03-27T15:30:00Z', 60, berlin)).toBe('2026-03-30T07:30:00.000Z');
    // Sydney's summer time starts on Sunday 2026-10-04: Friday 16:30 AEST + 60 min → Monday 09:30 AEDT.
    const sydney = hours({ timeZone: 'Australia/Sydney' });
    expect(due('2026-10-02T06:30:00Z', 60, sydney)).toBe('2026-10-04T22:30:00.000Z');
  });

  it('on the day of a DST change, counts the time that really passes inside the hours', () => {
    // 09:00–17:00 is 8 hours either side of Berlin's fall back (02:00–03:00 happens twice).
    const sunday = hours({ timeZone: 'Europe/Berlin', days: [7] });
    expect(workingMinutesBetween(utc('2026-10-25T00:00:00Z'), utc('2026-10-26T00:00:00Z'), sunday)).toBe(480);
    // 00:00–06:00 on New York's spring-forward night lasts 5 hours: 02:00–03:00 never happens.
    const night = hours({ timeZone: 'America/New_York', days: [7], start: '00:00', end: '06:00' });
    expect(workingMinutesBetween(utc('2026-03-07T12:00:00Z'), utc('2026-03-09T12:00:00Z'), night)).toBe(300);
    // A window opening at a time the clocks skip opens when the clocks show it an hour later.
    const skipped = hours({ timeZone: 'America/New_York', days: [7], start: '02:30', end: '05:00' });
    expect(due('2026-03-07T12:00:00Z', 1, skipped)).toBe('2026-03-08T07:31:00.000Z'); // 03:31 EDT
    // Chile skips midnight (Saturday 24:00 → Sunday 01:00): Sunday's window opens on Sunday.
    const santiago = hours({ timeZone: 'America/Santiago', days: [7], start: '00:00', end: '08:00' });
    expect(due('2026-09-05T12:00:00Z', 1, santiago)).toBe('2026-09-06T04:01:00.000Z'); // 01:01 −03
    expect(isWorkingTime(utc('2026-09-06T03:30:00Z'), santiago)).toBe(false); // Saturday 23:30 −04
  });

  it('skips holidays and honours other working weeks (Sunday–Thursday)', () => {
    const h = hours({ holidays: ['2026-11-26', '2026-11-27'] });
    expect(due('2026-11-25T16:50:00Z', 15, h)).toBe('2026-11-30T09:05:00.000Z');
    // Holidays are dates in the time zone: Thursday 2026-11-26 in Kolkata starts at 18:30 UTC the day before.
    const kolkata = hours({ timeZone: 'Asia/Kolkata', holidays: ['2026-11-26'] });
    expect(due('2026-11-25T11:20:00Z', 15, kolkata)).toBe('2026-11-27T03:35:00.000Z');
    const gulf = hours({ timeZone: 'Asia/Dubai', days: [7, 1, 2, 3, 4] });
    // Thursday 16:50 in Dubai (12:50 UTC) → Sunday 09:05 (05:05 UTC).
    expect(due('2026-11-26T12:50:00Z', 15, gulf)).toBe('2026-11-29T05:05:00.000Z');
    // Friday is a weekend day there.
    expect(due('2026-11-27T06:00:00Z', 15, gulf)).toBe('2026-11-29T05:15:00.000Z');
  });

  it('does not skip a day when the hours start in the afternoon', () => {
    const late = hours({ start: '13:00', end: '21:00' });
    expect(due('2026-11-23T20:50:00Z', 15, late)).toBe('2026-11-24T13:05:00.000Z');
    expect(due('2026-11-27T20:50:00Z', 15, late)).toBe('2026-11-30T13:05:00.000Z');
  });

  it('fails clearly when the hours leave no working time for about two years', () => {
    const mondays = hours({ days: [1], holidays: Array.from({ length: 120 }, (_, i) => mondayIso(i)) });
    expect(() => addWorkingMinutes(utc('2026-11-24T10:00:00Z'), 15, mondays)).toThrow(
      /leave no working time/,
    );
    const everyDay = hours({ days: [1, 2, 3, 4, 5, 6, 7], holidays: datesFrom('2026-11-24', 3 * 366) });
    expect(() => addWorkingMinutes(utc('2026-11-24T10:00:00Z'), 15, everyDay)).toThrow(
      /leave no working time within 800 days/,
    );
    // Measuring needs no working time: there is none.
    expect(workingMinutesBetween(utc('2026-11-24T10:00:00Z'), utc('2027-11-24T10:00:00Z'), everyDay)).toBe(0);
  });

  it('rejects negative or non-finite minutes', () => {
    expect(() => addWorkingMinutes(utc('2026-11-24T10:00:00Z'), -1, hours())).toThrow(RangeError);
    expect(() => addWorkingMinutes(utc('2026-11-24T10:00:00Z'), Infinity, hours())).toThrow(RangeError);
  });
});

describe('workingMinutesBetween', () => {
  it('counts only working time, and nothing backwards', () => {
    const h = hours();
    expect(workingMinutesBetween(utc('2026-11-27T16:00:00Z'), utc('2026-11-30T10:00:00Z'), h)).toBe(120);
    expect(workingMinutesBetween(utc('2026-11-28T10:00:00Z'), utc('2026-11-29T10:00:00Z'), h)).toBe(0);
    expect(workingMinutesBetween(utc('2026-11-30T10:00:00Z'), utc('2026-11-27T16:00:00Z'), h)).toBe(0);
    // Four weeks of Monday–Friday, 8 hours a day.
    expect(workingMinutesBetween(utc('2026-11-02T00:00:00Z'), utc('2026-11-30T00:00:00Z'), h)).toBe(20 * 480);
  });
});

describe('isWorkingTime', () => {
  it('is true inside the hours of a working day, in the time zone', () => {
    const ny = hours({ timeZone: 'America/New_York' });
    expect(isWorkingTime(utc('2026-11-24T14:00:00Z'), ny)).toBe(true); // 09:00 EST
    expect(isWorkingTime(utc('2026-11-24T13:59:00Z'), ny)).toBe(false);
    expect(isWorkingTime(utc('2026-11-24T22:00:00Z'), ny)).toBe(false); // 17:00 EST: closed
    expect(isWorkingTime(utc('2026-11-28T15:00:00Z'), ny)).toBe(false); // Saturday
    const kolkata = hours({ timeZone: 'Asia/Kolkata', holidays: ['2026-11-25'] });
    expect(isWorkingTime(utc('2026-11-24T03:30:00Z'), kolkata)).toBe(true); // 09:00 IST
    expect(isWorkingTime(utc('2026-11-25T03:30:00Z'), kolkata)).toBe(false); // holiday
  });
});

describe('properties', () => {
  const zones = [
    'UTC',
    'America/New_York',
    'Europe/Berlin',
    'Asia/Kolkata',
    'Asia/Kathmandu',
    'Australia/Sydney',
    'America/Santiago',
  ];
  const time = fc.integer({ min: 0, max: 24 * 60 - 1 });
  const anyHours = fc
    .record({
      timeZone: fc.constantFrom(...zones),
      days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
      a: time,
      b: time,
      holidays: fc.array(fc.integer({ min: 0, max: 3 * 365 }), { maxLength: 30 }),
    })
    .filter(({ a, b }) => a !== b)
    .map(({ timeZone, days, a, b, holidays }) =>
      hours({
        timeZone,
        days,
        start: hhmm(Math.min(a, b)),
        end: hhmm(Math.max(a, b)),
        holidays: holidays.map((d) => iso(utc('2026-01-01T00:00:00Z') + d * 86_400_000).slice(0, 10)),
      }),
    );
  const instant = fc.integer({ min: utc('2026-01-01T00:00:00Z'), max: utc('2028-12-31T00:00:00Z') });

  it('the due time is never before the handoff, is in or at the end of working time, and measures back', () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: 0, max: 2_000 }), anyHours, (from, minutes, h) => {
        const at = addWorkingMinutes(from, minutes, h);
        expect(at).toBeGreaterThanOrEqual(from);
        expect(isWorkingTime(at, h) || isWorkingTime(at - 1, h)).toBe(true);
        if (minutes > 0) expect(isWorkingTime(at - 1, h)).toBe(true);
        expect(workingMinutesBetween(from, at, h)).toBe(minutes);
      }),
      { numRuns: 300 },
    );
  });

  it('is monotonic in the start and in the minutes', () => {
    fc.assert(
      fc.property(
        instant,
        fc.integer({ min: 0, max: 2_000 }),
        fc.integer({ min: 1, max: 3 * 24 * 60 }),
        anyHours,
        (from, minutes, extra, h) => {
          const at = addWorkingMinutes(from, minutes, h);
          expect(addWorkingMinutes(from, minutes + extra, h)).toBeGreaterThanOrEqual(at);
          expect(addWorkingMinutes(from + extra * 60_000, minutes, h)).toBeGreaterThanOrEqual(at);
        },
      ),
      { numRuns: 300 },
    );
  });
});

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function datesFrom(first: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => iso(utc(first) + i * 86_400_000).slice(0, 10));
}

function mondayIso(weeks: number): string {
  return iso(utc('2026-11-23T00:00:00Z') + weeks * 7 * 86_400_000).slice(0, 10);
}
