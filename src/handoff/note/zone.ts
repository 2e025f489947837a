import type { Profile } from '../../domain/index.js';
import { value } from './format.js';

/**
 * The lead's own time zone: what the CRM says (an IANA name, or HubSpot's `hs_timezone` option such
 * as `america_slash_new_york`), else what the country (and US state) tells when it has one zone.
 * Unknown rather than guessed: a country spanning several zones gives none. Pure.
 */
export type LeadZone = { zone: string; from: 'crm' | 'country' | 'state' } | { zone: null; why: string };

const US = new Set(['united states', 'united states of america', 'usa', 'us', 'u.s.', 'u.s.a.']);

/** Countries with one time zone on their whole territory (names as CRMs store them, and ISO codes). */
const COUNTRIES: Record<string, string> = {
  germany: 'Europe/Berlin',
  de: 'Europe/Berlin',
  france: 'Europe/Paris',
  netherlands: 'Europe/Amsterdam',
  nl: 'Europe/Amsterdam',
  'united kingdom': 'Europe/London',
  uk: 'Europe/London',
  gb: 'Europe/London',
  ireland: 'Europe/Dublin',
  ie: 'Europe/Dublin',
  belgium: 'Europe/Brussels',
  be: 'Europe/Brussels',
  switzerland: 'Europe/Zurich',
  ch: 'Europe/Zurich',
  austria: 'Europe/Vienna',
  at: 'Europe/Vienna',
  italy: 'Europe/Rome',
  it: 'Europe/Rome',
  poland: 'Europe/Warsaw',
  pl: 'Europe/Warsaw',
  sweden: 'Europe/Stockholm',
  se: 'Europe/Stockholm',
  norway: 'Europe/Oslo',
  no: 'Europe/Oslo',
  denmark: 'Europe/Copenhagen',
  dk: 'Europe/Copenhagen',
  finland: 'Europe/Helsinki',
  fi: 'Europe/Helsinki',
  'czech republic': 'Europe/Prague',
  czechia: 'Europe/Prague',
  cz: 'Europe/Prague',
  israel: 'Asia/Jerusalem',
  il: 'Asia/Jerusalem',
  india: 'Asia/Kolkata',
  in: 'Asia/Kolkata',
  japan: 'Asia/Tokyo',
  jp: 'Asia/Tokyo',
  'south korea': 'Asia/Seoul',
  kr: 'Asia/Seoul',
  singapore: 'Asia/Singapore',
  sg: 'Asia/Singapore',
  'hong kong': 'Asia/Hong_Kong',
  hk: 'Asia/Hong_Kong',
  'united arab emirates': 'Asia/Dubai',
  ae: 'Asia/Dubai',
  'south africa': 'Africa/Johannesburg',
  za: 'Africa/Johannesburg',
};

/** US states (names and postal codes) that lie in one time zone; the others span two. */
const US_STATES: Record<string, string> = Object.fromEntries(
  (
    [
      [
        'America/New_York',
        'connecticut ct delaware de district_of_columbia dc georgia ga maine me maryland md massachusetts ma ' +
          'new_hampshire nh new_jersey nj new_york ny north_carolina nc ohio oh pennsylvania pa rhode_island ri ' +
          'south_carolina sc vermont vt virginia va west_virginia wv',
      ],
      [
        'America/Chicago',
        'alabama al arkansas ar illinois il iowa ia louisiana la minnesota mn mississippi ms missouri mo ' +
          'oklahoma ok wisconsin wi',
      ],
      ['America/Denver', 'colorado co montana mt new_mexico nm utah ut wyoming wy'],
      ['America/Los_Angeles', 'california ca washington wa'],
      ['Pacific/Honolulu', 'hawaii hi'],
    ] as const
  ).flatMap(([zone, names]) => names.split(' ').map((name) => [name.replace(/_/g, ' '), zone])),
);

export function leadZone(profile: Profile): LeadZone {
  const stated = value(profile.timeZone);
  if (stated) {
    const zone = ianaZone(stated);
    return zone ? { zone, from: 'crm' } : { zone: null, why: `time zone “${stated}” not recognised` };
  }
  const country = value(profile.country);
  if (!country) return { zone: null, why: 'no time zone or country in the CRM' };
  const key = country.toLowerCase();
  if (US.has(key)) {
    const state = value(profile.state);
    const zone = state ? US_STATES[state.toLowerCase()] : undefined;
    if (zone) return { zone, from: 'state' };
    return { zone: null, why: state ? `${state} spans two time zones` : 'the United States span several' };
  }
  const zone = COUNTRIES[key];
  return zone ? { zone, from: 'country' } : { zone: null, why: `no single time zone known for ${country}` };
}

/** Resolved names, so a note does not build a formatter; bounded by the values CRMs offer (~600). */
const RESOLVED = new Map<string, string | null>();
const RESOLVED_KEPT = 1_000;

/** An IANA name as the runtime spells it, from an IANA name in any case or a HubSpot option value. */
function ianaZone(stated: string): string | null {
  const known = RESOLVED.get(stated);
  if (known !== undefined) return known;
  const name = stated.replace(/_slash_/gi, '/');
  let zone: string | null;
  try {
    zone = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    zone = null;
  }
  // Free text (a Salesforce field) could hold anything: keep the map bounded.
  if (RESOLVED.size >= RESOLVED_KEPT) RESOLVED.clear();
  RESOLVED.set(stated, zone);
  return zone;
}
