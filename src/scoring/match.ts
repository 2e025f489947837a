import type { Matcher } from '../config/schema.js';
import { parseCountRange, type PropertyValue } from '../domain/index.js';

type Present = string | number | boolean;
type Test = (value: Present) => boolean;
export type MatchFn = (value: PropertyValue | undefined) => boolean;

/** Compiled once per matcher object: config is parsed once and never mutated, so the cache stays valid. */
const compiled = new WeakMap<Matcher, MatchFn>();

/**
 * Whether a profile or event property satisfies a matcher. CRMs send most values as strings, so
 * equality coerces: `"123"` equals 123, `" True "` equals true, strings compare trimmed and
 * case-insensitively. A missing or null value never matches.
 */
export function matches(matcher: Matcher, value: PropertyValue | undefined): boolean {
  return compiledMatcher(matcher)(value);
}

/** The matcher as a function, for hot loops that would otherwise look it up per value. */
export function compiledMatcher(matcher: Matcher): MatchFn {
  let fn = compiled.get(matcher);
  if (fn === undefined) {
    const test = compile(matcher);
    fn = (value) => value !== null && value !== undefined && test(value);
    compiled.set(matcher, fn);
  }
  return fn;
}

function compile(m: Matcher): Test {
  if (m.equals !== undefined) return oneOf([m.equals]);
  if (m.in !== undefined) return oneOf(m.in);
  if (m.contains !== undefined) {
    const needle = m.contains.toLowerCase();
    return (v) => String(v).toLowerCase().includes(needle);
  }
  if (m.regex !== undefined) {
    // g and y would make test() stateful; the schema forbids them but hand-built matchers might not.
    const re = new RegExp(m.regex, (m.flags ?? '').replace(/[gy]/g, ''));
    return (v) => re.test(String(v));
  }
  if (m.min !== undefined || m.max !== undefined) {
    const min = m.min ?? -Infinity;
    const max = m.max ?? Infinity;
    return (v) => {
      const n = toNumber(v) ?? rangeMidpoint(v);
      return n !== undefined && n >= min && n <= max;
    };
  }
  return () => false;
}

/**
 * Equality against a list of operands, with set lookups instead of a scan. Strings meet strings
 * as normalized text, numbers meet numbers and numeric strings, booleans meet booleans and
 * "true"/"false"; numbers never meet booleans.
 */
function oneOf(operands: readonly Present[]): Test {
  const texts = new Set<string>();
  const numbers = new Set<number>(); // number operands: match numeric strings and numbers
  const numericTexts = new Set<number>(); // string operands that are numeric: match number values only
  const bools = new Set<boolean>();
  for (const op of operands) {
    if (typeof op === 'string') {
      texts.add(normalize(op));
      const n = toNumber(op);
      if (n !== undefined) numericTexts.add(n);
    } else if (typeof op === 'number') numbers.add(op);
    else bools.add(op);
  }
  return (v) => {
    if (typeof v === 'string') {
      const text = normalize(v);
      if (texts.has(text)) return true;
      if (numbers.size > 0) {
        const n = toNumber(text);
        if (n !== undefined && numbers.has(n)) return true;
      }
      return bools.size > 0 && (text === 'true' ? bools.has(true) : text === 'false' && bools.has(false));
    }
    if (typeof v === 'number') return numbers.has(v) || numericTexts.has(v);
    return bools.has(v) || texts.has(v ? 'true' : 'false');
  };
}

function normalize(s: string): string {
  return s.trim().toLowerCase();
}

/** A finite number, or undefined for booleans, empty strings and anything Number() cannot read. */
function toNumber(v: Present): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A band such as HubSpot's `numemployees` option `"100-500"` meets `min`/`max` through its midpoint
 * (300); an open-ended `"10000+"` through its floor. Midpoint rather than overlap: HubSpot's options
 * share their ends ("25-50", "50-100"), so by overlap a `min: 50` rule would take "25-50" and two
 * adjacent tier rules would both take "50-100". One number per band keeps rules that split numbers
 * into tiers splitting the bands the same way: no band lands in two tiers.
 */
function rangeMidpoint(v: Present): number | undefined {
  const range = typeof v === 'string' ? parseCountRange(v) : undefined;
  if (range === undefined) return undefined;
  return range.high === Infinity ? range.low : (range.low + range.high) / 2;
}

/** A short human description, e.g. `url contains "/pricing"`, for score reasons. */
export function describeMatcher(field: string, m: Matcher): string {
  if (m.equals !== undefined) return `${field} is ${quote(m.equals)}`;
  if (m.in !== undefined) return `${field} is one of ${m.in.map(quote).join(', ')}`;
  if (m.contains !== undefined) return `${field} contains ${quote(m.contains)}`;
  if (m.regex !== undefined) return `${field} matches /${m.regex}/${m.flags ?? ''}`;
  if (m.min !== undefined && m.max !== undefined) return `${field} between ${m.min} and ${m.max}`;
  if (m.min !== undefined) return `${field} ≥ ${m.min}`;
  if (m.max !== undefined) return `${field} ≤ ${m.max}`;
  return `${field} (no condition)`;
}

function quote(v: Present): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
