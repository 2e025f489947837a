import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WorkingHours } from '../../src/config/schema.js';
import { addWorkingMinutes, isWorkingTime, workingMinutesBetween } from '../../src/handoff/sla.js';

const hours = (over: Partial<WorkingHours> = {}) => WorkingHours.parse(over);
const iso = (at: number) => new Date(at).toISOString();
const utc = (s: string) => Date.parse(s);

describe('addWorkingMinutes', () => {
  it.each([
    ['inside hours', 'UTC', '2026-11-24T10:00:00Z', 15, '2026-11-24T10:15:00.000Z'],
    ['spills into the next working day', 'UTC', '2026-11-24T16:50:00Z', 15, '2026-11-25T09:05:00.000Z'],
    ['before opening', 'UTC', '2026-11-24T07:00:00Z', 15, '2026-11-24T09:15:00.000Z'],
    ['on a Saturday', 'UTC', '2026-11-28T12:00:00Z', 15, '2026-11-30T09:15:00.000Z'],
    ['Friday evening → Monday', 'UTC', '2026-11-27T16:30:00Z', 60, '2026-11-30T09:30:00.000Z'],
    ['a whole working day', 'UTC', '2026-11-24T09:00:00Z', 480, '2026-11-24T17:00:00.000Z'],
    // 16:50 in New York is 21:50 UTC (EST, UTC−5).
    ['New York evening', 'America/New_York', '2026-11-24T21:50:00Z', 15, '2026-11-25T14:05:00.000Z'],
    // Kolkata is UTC+05:30: 09:00 local is 03:30 UTC.
    ['Kolkata before opening', 'Asia/Kolkata', '2026-11-24T02:00:00Z', 30, '2026-11-24T04:00:00.000Z'],
    // Sydney in summer is UTC+11: Tuesday 17:30 local → Wednesday 09:15 local (Tue 22:15 UTC).
    ['Sydney after closing', 'Australia/Sydney', '2026-11-24T06:30:00Z', 15, '2026-11-24T22:15:00.000Z'],
  ])('%s (%s)', (_label, timeZone, from, minutes, due) => {
    expect(iso(addWorkingMinutes(utc(from), minutes, hours({ timeZone })))).toBe(due);
  });

  it('counts wall-clock hours across DST changes', () => {
    // New York springs forward on Sunday 2026-03-08: Friday 16:30 EST + 60 min → Monday 09:30 EDT.
    const ny = hours({ timeZone: 'America/New_York' });
    expect(iso(addWorkingMinutes(utc('2026-03-06T21:30:00Z'), 60, ny))).toBe('2026-03-09T13:30:00.000Z');
    // Berlin falls back on Sunday 2026-10-25: Friday 16:30 CEST + 60 min → Monday 09:30 CET.
    const berlin = hours({ timeZone: 'Europe/Berlin' });
    expect(iso(addWorkingMinutes(utc('2026-10-23T14:30:00Z'), 60, berlin))).toBe('2026-10-26T08:30:00.000Z');
    // Working on the day itself: 09:00–17:00 is still 8 hours of wall clock.
    const sunday = hours({ timeZone: 'Europe/Berlin', days: [7] });
    expect(workingMinutesBetween(utc('2026-10-25T00:00:00Z'), utc('2026-10-26T00:00:00Z'), sunday)).toBe(480);
  });

  it('skips holidays and honours other working weeks (Sunday–Thursday)', () => {
    const h = hours({ holidays: ['2026-11-26', '2026-11-27'] });
    expect(iso(addWorkingMinutes(utc('2026-11-25T16:50:00Z'), 15, h))).toBe('2026-11-30T09:05:00.000Z');
    const gulf = hours({ timeZone: 'Asia/Dubai', days: [7, 1, 2, 3, 4] });
    // Thursday 16:50 in Dubai (12:50 UTC) → Sunday 09:05 (05:05 UTC).
    expect(iso(addWorkingMinutes(utc('2026-11-26T12:50:00Z'), 15, gulf))).toBe('2026-11-29T05:05:00.000Z');
  });

  it('fails clearly when the hours leave no working time', () => {
    const never = hours({ days: [1], holidays: Array.from({ length: 120 }, (_, i) => mondayIso(i)) });
    expect(() => addWorkingMinutes(utc('2026-11-24T10:00:00Z'), 15, never)).toThrow(/leave no working time/);
  });

  it('properties: later start or more minutes never make it due earlier; the inverse measure agrees', () => {
    const zones = ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Sydney'];
    fc.assert(
      fc.property(
        fc.integer({ min: utc('2026-01-01T00:00:00Z'), max: utc('2027-12-31T00:00:00Z') }),
        fc.integer({ min: 0, max: 3 * 24 * 60 }),
        fc.integer({ min: 1, max: 600 }),
        fc.constantFrom(...zones),
        (from, minutes, extra, timeZone) => {
          const h = hours({ timeZone });
          const due = addWorkingMinutes(from, minutes, h);
          expect(due).toBeGreaterThanOrEqual(from);
          expect(addWorkingMinutes(from, minutes + extra, h)).toBeGreaterThanOrEqual(due);
          expect(addWorkingMinutes(from + extra * 60_000, minutes, h)).toBeGreaterThanOrEqual(due);
          expect(workingMinutesBetween(from, due, h)).toBe(minutes);
          if (minutes > 0) expect(isWorkingTime(due - 1, h)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('isWorkingTime', () => {
  it('is true inside the hours of a working day, in the time zone', () => {
    const ny = hours({ timeZone: 'America/New_York' });
    expect(isWorkingTime(utc('2026-11-24T14:00:00Z'), ny)).toBe(true); // 09:00 EST
    expect(isWorkingTime(utc('2026-11-24T13:59:00Z'), ny)).toBe(false);
    expect(isWorkingTime(utc('2026-11-24T22:00:00Z'), ny)).toBe(false); // 17:00 EST: closed
    expect(isWorkingTime(utc('2026-11-28T15:00:00Z'), ny)).toBe(false); // Saturday
  });
});

function mondayIso(weeks: number): string {
  return new Date(utc('2026-11-30T00:00:00Z') + weeks * 7 * 86_400_000 - 7 * 86_400_000)
    .toISOString()
    .slice(0, 10);
}
