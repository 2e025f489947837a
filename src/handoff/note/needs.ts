import type { EngagementEvent } from '../../domain/index.js';
import { humanize, value } from './format.js';

/** The lead's own words: form answers that state a need, never contact details or tracking fields. Pure. */

const ANSWER_MAX = 300;
/** Form answers shown first when present. */
const NEEDS_FIRST = ['message', 'needs', 'use_case', 'budget', 'timeline'];
/** Form fields that are not needs: what the form was, or contact details already under "Who" (compared lower-case, without `_`/`-`). */
const NOT_NEEDS = new Set([
  'url',
  'page',
  'pageurl',
  'pagename',
  'pagetitle',
  'form',
  'formname',
  'webinar',
  'campaign',
  'email',
  'firstname',
  'lastname',
  'fullname',
  'name',
  'company',
  'jobtitle',
  'phone',
  'mobilephone',
  'address',
  'city',
  'state',
  'zip',
  'country',
  'website',
  'industry',
  'numemployees',
  'companysize',
  'referrer',
  'gclid',
  'fbclid',
  'msclkid',
]);
/** Tracking, consent and id fields: technical, not something the lead said. */
const TECHNICAL_KEY = /^(utm|hs)_|consent|legal|gdpr|(^|[_-])(id|guid|uuid)$/i;
const CAMEL_ID = /[a-z](Id|ID|Guid)$/;

/** What the lead wrote in forms, newest first and verbatim (clipped); nothing when they wrote nothing. */
export function statedNeeds(events: readonly EngagementEvent[]): string[] {
  const said = events
    .filter((e) => e.type === 'form_submission' || e.type === 'demo_request')
    .reverse()
    .flatMap((e) =>
      Object.entries(e.properties)
        .filter(([key, v]) => typeof v === 'string' && isNeed(key, v))
        .sort(([a], [b]) => firstness(a) - firstness(b))
        .map(([key, v]) => `${humanize(key)}: “${value(v, ANSWER_MAX)}”`),
    );
  return [...new Set(said)];
}

function isNeed(key: string, said: string): boolean {
  const v = said.trim();
  return (
    v !== '' &&
    !/^(true|false)$/i.test(v) &&
    !/^https?:\/\//i.test(v) &&
    !NOT_NEEDS.has(key.toLowerCase().replace(/[_-]/g, '')) &&
    !TECHNICAL_KEY.test(key) &&
    !CAMEL_ID.test(key)
  );
}

function firstness(key: string): number {
  const at = NEEDS_FIRST.indexOf(key.toLowerCase());
  return at < 0 ? NEEDS_FIRST.length : at;
}
