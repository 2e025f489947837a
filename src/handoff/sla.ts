import type { WorkingHours } from '../config/schema.js';

const MINUTE_MS = 60_000;
/** Far enough for any real calendar; a config with no working time at all fails instead of looping. */
const MAX_DAYS_SCANNED = 800;

interface LocalDay {
  /** YYYY-MM-DD in the time zone. */
  date: string;
  /** ISO weekday, 1 = Monday. */
  weekday: number;
  /** The instants the working window opens and closes on that day. */
  start: number;
  end: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** Wall-clock parts of an instant in a time zone. */
function wallClock(at: number, timeZone: string) {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS[parts.weekday!]!,
  };
}

/** The instant a local wall-clock time happens (the later one in a DST gap, the first in an overlap). */
function instant(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  // Two corrections settle the zone's offset, also next to a DST change.
  let at = guess;
  for (let i = 0; i < 2; i++) {
    const w = wallClock(at, timeZone);
    const shown = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
    at += guess - shown;
  }
  return at;
}

function localDay(at: number, hours: WorkingHours): LocalDay {
  const w = wallClock(at, hours.timeZone);
  const [sh, sm] = hours.start.split(':').map(Number) as [number, number];
  const [eh, em] = hours.end.split(':').map(Number) as [number, number];
  const date = `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  return {
    date,
    weekday: w.weekday,
    start: instant(w.year, w.month, w.day, sh, sm, hours.timeZone),
    end: instant(w.year, w.month, w.day, eh, em, hours.timeZone),
  };
}

function isWorkday(day: LocalDay, hours: WorkingHours): boolean {
  return hours.days.includes(day.weekday) && !hours.holidays.includes(day.date);
}

/** The local day after `day`: noon tomorrow is safely inside it whatever DST does. */
function nextDay(day: LocalDay, hours: WorkingHours): LocalDay {
  return localDay(day.start + 36 * 3_600_000, hours);
}

/**
 * Visits the working windows from the one containing or following `from`, in order, until `visit`
 * returns true.
 */
function eachWindow(from: number, hours: WorkingHours, visit: (start: number, end: number) => boolean): void {
  let day = localDay(from, hours);
  for (let i = 0; i < MAX_DAYS_SCANNED; i++, day = nextDay(day, hours)) {
    if (!isWorkday(day, hours) || day.end <= from) continue;
    if (visit(Math.max(day.start, from), day.end)) return;
  }
  throw new Error(
    `working hours ${hours.start}–${hours.end} on days ${hours.days.join(',')} in ${hours.timeZone} ` +
      `leave no working time in the next ${MAX_DAYS_SCANNED} days`,
  );
}

/**
 * Pure. The instant `minutes` of working time have passed after `from`: only time inside the
 * working hours of working days that are not holidays counts, on the wall clock of the time zone.
 */
export function addWorkingMinutes(from: number, minutes: number, hours: WorkingHours): number {
  let left = minutes * MINUTE_MS;
  let due = from;
  eachWindow(from, hours, (start, end) => {
    due = start + Math.min(left, end - start);
    left -= end - start;
    return left <= 0;
  });
  return due;
}

/** Pure. Working minutes between two instants (0 when `to` is not after `from`). */
export function workingMinutesBetween(from: number, to: number, hours: WorkingHours): number {
  if (to <= from) return 0;
  let total = 0;
  eachWindow(from, hours, (start, end) => {
    if (start < to) total += Math.min(end, to) - start;
    return end >= to;
  });
  return Math.round(total / MINUTE_MS);
}

/** Pure. Whether `at` falls inside working hours. */
export function isWorkingTime(at: number, hours: WorkingHours): boolean {
  const day = localDay(at, hours);
  return isWorkday(day, hours) && at >= day.start && at < day.end;
}
