import type { WorkingHours } from '../config/schema.js';
import { DAY_MS, zoneOffset } from '../domain/time.js';

const MINUTE_MS = 60_000;
/** About two years: a config with no working time at all fails instead of looping. */
const MAX_IDLE_DAYS = 800;

/**
 * The instant a wall-clock time (as ms on a UTC calendar) happens in the zone: the first one when
 * the clocks go back, and one gap-length later when they skip it (as `Temporal`'s "compatible").
 */
function instant(wall: number, timeZone: string): number {
  // Zones change offset at most once within a day of any time, so these are the only candidates.
  const earlier = wall - zoneOffset(timeZone, wall - DAY_MS);
  const later = wall - zoneOffset(timeZone, wall + DAY_MS);
  if (earlier === later || earlier + zoneOffset(timeZone, earlier) === wall) return earlier;
  return later + zoneOffset(timeZone, later) === wall ? later : earlier;
}

/** Local calendar day of an instant, counted in days since 1970-01-01. */
function dayOf(at: number, timeZone: string): number {
  return Math.floor((at + zoneOffset(timeZone, at)) / DAY_MS);
}

function minutesOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return (h * 60 + m) * MINUTE_MS;
}

/** The working window of a local day, or null when it is not worked. */
function workWindow(day: number, hours: WorkingHours): readonly [number, number] | null {
  // 1970-01-01 was a Thursday (ISO 4).
  const weekday = ((((day + 3) % 7) + 7) % 7) + 1;
  if (!hours.days.includes(weekday)) return null;
  if (hours.holidays.includes(new Date(day * DAY_MS).toISOString().slice(0, 10))) return null;
  const start = instant(day * DAY_MS + minutesOfDay(hours.start), hours.timeZone);
  const end = instant(day * DAY_MS + minutesOfDay(hours.end), hours.timeZone);
  // A start skipped by the clocks can land after the end.
  return end > start ? [start, end] : null;
}

/**
 * The working windows from the one containing or following `from`, in order, clipped to start no
 * earlier than `from`: up to the local day of `until`, or without it until MAX_IDLE_DAYS pass
 * without one.
 */
function* windows(from: number, hours: WorkingHours, until = Infinity): Generator<readonly [number, number]> {
  const last = until === Infinity ? Infinity : dayOf(until, hours.timeZone);
  const maxIdle = until === Infinity ? MAX_IDLE_DAYS : Infinity;
  let cursor = from;
  for (let day = dayOf(from, hours.timeZone), idle = 0; day <= last && idle < maxIdle; day++) {
    const w = workWindow(day, hours);
    if (!w || w[1] <= cursor) {
      idle++;
      continue;
    }
    idle = 0;
    yield [Math.max(w[0], cursor), w[1]];
    cursor = w[1];
  }
}

/**
 * Pure. The instant `minutes` of working time have passed after `from`: only time inside the
 * working hours of working days that are not holidays counts, on the wall clock of the time zone.
 * Never earlier than the next opening, so 0 minutes outside hours is the next opening.
 */
export function addWorkingMinutes(from: number, minutes: number, hours: WorkingHours): number {
  if (!Number.isFinite(minutes) || minutes < 0) throw new RangeError(`minutes must be ≥ 0, got ${minutes}`);
  let left = minutes * MINUTE_MS;
  for (const [start, end] of windows(from, hours)) {
    if (left <= end - start) return start + left;
    left -= end - start;
  }
  throw new Error(
    `working hours ${hours.start}–${hours.end} on days ${hours.days.join(',')} in ${hours.timeZone} ` +
      `leave no working time within ${MAX_IDLE_DAYS} days after ${new Date(from).toISOString()}`,
  );
}

/** Pure. Working minutes between two instants, rounded (0 when `to` is not after `from`). */
export function workingMinutesBetween(from: number, to: number, hours: WorkingHours): number {
  if (to <= from) return 0;
  let total = 0;
  for (const [start, end] of windows(from, hours, to)) total += Math.max(0, Math.min(end, to) - start);
  return Math.round(total / MINUTE_MS);
}

/** Pure. Whether `at` falls inside working hours (the end of a window is outside). */
export function isWorkingTime(at: number, hours: WorkingHours): boolean {
  const w = workWindow(dayOf(at, hours.timeZone), hours);
  return w !== null && at >= w[0] && at < w[1];
}
