const clocks = new Map<string, Intl.DateTimeFormat>();

/** Pure: the zone's wall-clock time at `at`, to the second, written as if it were UTC (epoch ms). */
export function wallClock(timeZone: string, at: number): number {
  let clock = clocks.get(timeZone);
  if (!clock) {
    clock = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    clocks.set(timeZone, clock);
  }
  const p = Object.fromEntries(clock.formatToParts(at).map((part) => [part.type, Number(part.value)]));
  return Date.UTC(p.year!, p.month! - 1, p.day, p.hour, p.minute, p.second);
}

/** Pure: how far the zone's clock is ahead of UTC at `at` (ms). Throws a RangeError for an unknown zone. */
export function zoneOffset(timeZone: string, at: number): number {
  return wallClock(timeZone, at) - Math.floor(at / 1000) * 1000;
}

/** A UTC day in ms (a zone's calendar day may be an hour longer or shorter: see startOfDay). */
export const DAY_MS = 86_400_000;

/** Pure: when the zone's calendar day that holds `at` began (epoch ms). */
export function startOfDay(timeZone: string, at: number): number {
  const midnight = Math.floor(wallClock(timeZone, at) / DAY_MS) * DAY_MS;
  // The offset at midnight, which differs from the one at `at` on a day the clocks change.
  return midnight - zoneOffset(timeZone, midnight - zoneOffset(timeZone, at));
}
