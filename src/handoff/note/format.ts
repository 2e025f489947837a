import { parseCountRange, type FieldLabels, type PropertyValue } from '../../domain/index.js';

/** How the handoff note writes values, times and counts: one line each, clipped, in the rep's zone. Pure. */

const VALUE_MAX = 100;

export interface Clock {
  zone: string;
  /** "2026-11-24 09:48 EST" */
  full(at: number): string;
  /** "Nov 24 09:48", for lists headed by the zone. */
  short(at: number): string;
  /** "09:48" */
  time(at: number): string;
  /** "Tue 09:48" */
  dayTime(at: number): string;
  /** Whether two instants fall on the same calendar day in this zone. */
  sameDay(a: number, b: number): boolean;
}

/**
 * Clocks by the zone asked for, built once: a formatter costs 0.2 ms to build and 0.01 ms to use
 * (this machine), and every handoff's note, task and alert format times.
 */
const clocks = new Map<string, Clock>();

export function clockFor(timeZone: string): Clock {
  let clock = clocks.get(timeZone);
  if (!clock) {
    clock = makeClock(timeZone);
    clocks.set(timeZone, clock);
  }
  return clock;
}

function makeClock(timeZone: string): Clock {
  let zone = timeZone;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    // An unknown zone must not lose the note; times then say UTC, so nothing is misread.
    zone = 'UTC';
  }
  const time = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone } as const;
  const full = new Intl.DateTimeFormat('en-CA', {
    ...time,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    timeZoneName: 'short',
  });
  const short = new Intl.DateTimeFormat('en-US', { ...time, month: 'short', day: 'numeric' });
  const weekday = new Intl.DateTimeFormat('en-US', { ...time, weekday: 'short' });
  const parts = (f: Intl.DateTimeFormat, at: number) => {
    const p = Object.fromEntries(f.formatToParts(at).map(({ type, value }) => [type, value]));
    return (type: string) => p[type] ?? '';
  };
  return {
    zone,
    full: (at) => {
      const p = parts(full, at);
      return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')} ${p('timeZoneName')}`;
    },
    short: (at) => {
      const p = parts(short, at);
      return `${p('month')} ${p('day')} ${p('hour')}:${p('minute')}`;
    },
    time: (at) => {
      const p = parts(weekday, at);
      return `${p('hour')}:${p('minute')}`;
    },
    dayTime: (at) => {
      const p = parts(weekday, at);
      return `${p('weekday')} ${p('hour')}:${p('minute')}`;
    },
    sameDay: (a, b) => {
      const day = (at: number) => {
        const p = parts(full, at);
        return `${p('year')}-${p('month')}-${p('day')}`;
      };
      return day(a) === day(b);
    },
  };
}

/** "12 min before handoff", "3 days before handoff". */
export function relative(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const span =
    minutes < 1
      ? 'under a minute'
      : minutes < 60
        ? `${minutes} min`
        : minutes < 48 * 60
          ? `${Math.round(minutes / 60)} h`
          : `${Math.round(minutes / 1440)} days`;
  return `${span} ${ms > 0 ? 'after' : 'before'} handoff`;
}

/** A value on one line, clipped; '' when missing, so such lines drop out. */
export function value(v: PropertyValue | undefined, max = VALUE_MAX): string {
  if (v === null || v === undefined) return '';
  const s = String(v)
    .replace(/[\s\p{Cc}]+/gu, ' ')
    // A lead typing a marker into a form must not make a later handoff's note look written already.
    .replace(/(handoff id) ?:/gi, '$1 -')
    .trim();
  const chars = [...s];
  return chars.length > max
    ? `${chars
        .slice(0, max - 1)
        .join('')
        .trimEnd()}…`
    : s;
}

/** A count (Salesforce's 420) or a band (HubSpot's "50-100", "10000+") reads as employees; other text as written. */
export function companySize(v: PropertyValue | undefined): string {
  const s = value(v);
  return s && (/^\d[\d,]*$/.test(s) || parseCountRange(s)) ? `${s} employees` : s;
}

/** An option code as people say it, when the CRM gave no label: `COMPUTER_SOFTWARE` → "Computer software". */
const OPTION_CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

/**
 * A profile value as the rep reads it: the CRM's label for the stored option (HubSpot property
 * options, Salesforce picklist labels), else an option code made readable, else the value as written.
 */
export function shown(field: string, v: PropertyValue | undefined, labels: FieldLabels = {}): string {
  const s = value(v);
  const label = s ? labels[field]?.[s] : undefined;
  if (label) return value(label);
  return OPTION_CODE.test(s) ? humanize(s) : s;
}

export function labelled(label: string, v: PropertyValue | undefined): string {
  const s = value(v);
  return s && `${label}: ${s}`;
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function humanize(key: string): string {
  const words = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function round(n: number): number {
  return Math.round(n * 10) / 10;
}
