import {
  handoffMarker,
  parseCountRange,
  type EngagementEvent,
  type Handoff,
  type HandoffNote,
  type Profile,
  type PropertyValue,
} from '../domain/index.js';

export type NoteSection = 'who' | 'where' | 'what' | 'when' | 'why' | 'score' | 'source' | 'next';
const ALL_SECTIONS: NoteSection[] = ['who', 'where', 'what', 'when', 'why', 'score', 'source', 'next'];

export interface NoteInput {
  handoff: Handoff;
  profile: Profile;
  events: readonly EngagementEvent[];
  /** Most important score reasons shown (default 3); the rest are counted in one line. */
  topReasons?: number;
  /** The rep the lead goes to. */
  owner?: { id: string; name?: string };
  /** When the rep must have acted (the task's due time). */
  slaDueAt?: number;
  /** The rep's IANA time zone: every time in the note is shown in it (default UTC). */
  timeZone?: string;
  /** Link to the full timeline; without it the last events are appended. */
  timelineUrl?: string;
  /** Which sections, in which order (default: all). */
  sections?: readonly NoteSection[];
}

/** About what a rep reads in 30 seconds; the appended event list gives way first. */
const TEXT_BUDGET = 1_600;
const RECENT_EVENTS = 10;
const MAX_PAGES = 5;
const MAX_NAMES = 3;
const MAX_ANSWERS = 3;
const ANSWER_MAX = 300;
const VALUE_MAX = 100;
const DAY_MS = 86_400_000;

const EVENT_LABELS: Record<string, string> = {
  page_view: 'Viewed page',
  form_submission: 'Submitted form',
  email_open: 'Opened email',
  email_click: 'Clicked email',
  email_bounce: 'Email bounced',
  email_unsubscribe: 'Unsubscribed',
  webinar_registered: 'Registered for webinar',
  webinar_attended: 'Attended webinar',
  demo_request: 'Requested a demo',
};

/** Engagement listed under "What" besides pages, one line per event type. */
const ENGAGEMENT_LINES: Record<string, string> = {
  demo_request: 'Demo requests',
  form_submission: 'Forms',
  webinar_attended: 'Webinars attended',
  webinar_registered: 'Webinars registered',
  email_click: 'Email clicks',
};

type Stage = 'early' | 'late';
/** Kinds of content by words in a URL or name. Evaluating (late) is tested first: a blog post comparing vendors is evaluation. */
const CONTENT_KINDS: readonly { kind: string; stage: Stage; pattern: RegExp }[] = [
  { kind: 'pricing', stage: 'late', pattern: /pricing/i },
  { kind: 'demo', stage: 'late', pattern: /\bdemos?\b/i },
  { kind: 'case study', stage: 'late', pattern: /case[-_ ]?stud|customer[-_ ]?stor/i },
  { kind: 'comparison', stage: 'late', pattern: /compar|[-_/ ]vs[-_/ .]|alternative/i },
  { kind: 'docs', stage: 'late', pattern: /\bdocs?\b|documentation/i },
  { kind: 'integration', stage: 'late', pattern: /integration/i },
  { kind: 'trial', stage: 'late', pattern: /\btrial/i },
  { kind: 'blog', stage: 'early', pattern: /\bblog/i },
  { kind: 'guide', stage: 'early', pattern: /\bguides?\b/i },
  { kind: 'ebook', stage: 'early', pattern: /\be-?books?\b|whitepaper/i },
  { kind: 'webinar', stage: 'early', pattern: /webinar/i },
];

/** Properties that say what an event was about, most telling first (never free text such as a message). */
const DETAIL_KEYS = ['form', 'webinar', 'url', 'page', 'title', 'name', 'subject', 'campaign'];
/** Of those, the ones that name content (a campaign name says nothing about the stage). */
const CONTENT_KEYS = ['form', 'webinar', 'url', 'page', 'title', 'name'];
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

/**
 * Pure. A note a rep reads in 30 seconds: who the lead is, where, what they engaged with, when, why
 * (their own words only, never guessed), the score and its top reasons, where they came from, and a
 * suggested next step. Lines with no data are left out, never filled in.
 */
export function composeHandoffNote(input: NoteInput): HandoffNote {
  const { handoff, profile } = input;
  const events = [...input.events].sort((a, b) => a.occurredAt - b.occurredAt);
  const clock = clockFor(input.timeZone ?? 'UTC');
  const person = [profile.firstName, profile.lastName]
    .map((v) => value(v))
    .filter(Boolean)
    .join(' ');
  const stage = handoff.stage.toUpperCase();
  const trigger = handoff.trigger === 'hand_raise' ? 'raised their hand' : `crossed the ${stage} threshold`;
  const subject = `${stage}: ${person || value(profile.email) || 'Lead'} ${trigger} (score ${handoff.score.total})`;
  const engaged = engagement(events);
  const said = statedNeeds(events);
  const timelineUrl = value(input.timelineUrl, Infinity);
  const recent = timelineUrl
    ? []
    : events
        .slice(-RECENT_EVENTS)
        .reverse()
        .map((e) => `${clock.short(e.occurredAt)} ${describeEvent(e)}`);
  // Over budget, these lists give way in this order, from their tail: the appended events, the
  // pages, the lead's answers beyond the newest.
  const limits = { recent: recent.length, pages: MAX_PAGES, answers: MAX_ANSWERS };
  const giveWay = [
    ['recent', 0],
    ['pages', 1],
    ['answers', 1],
  ] as const;

  const build: Record<NoteSection, () => string[]> = {
    who: () => {
      const title = value(profile.jobTitle);
      const company = value(profile.company);
      const size = companySize(profile.companySize);
      const industry = value(profile.industry);
      return [
        person,
        title && company ? `${title} at ${company}` : title || company,
        labelled('Email', profile.email),
        labelled('Phone', profile.phone),
        size && industry
          ? `Company size: ${size}, industry: ${industry}`
          : labelled('Company size', size) || labelled('Industry', industry),
      ];
    },
    where: () => {
      const crmStage = value(profile.lifecycleStage);
      return [
        [profile.city, profile.state, profile.country]
          .map((v) => value(v))
          .filter(Boolean)
          .join(', '),
        labelled('Time zone', profile.timeZone),
        `Journey stage: ${stage}${crmStage ? ` (CRM lifecycle stage: ${crmStage})` : ''}`,
      ];
    },
    what: () => [
      stageLine(engaged.kinds),
      ...engaged.pages.slice(0, limits.pages).map(counted),
      engaged.pages.length > limits.pages ? `…and ${engaged.pages.length - limits.pages} more pages` : '',
      ...engaged.lines,
    ],
    when: () => timing(events, handoff.decidedAt, clock),
    why: () => {
      if (!said.length) return ['No stated needs yet'];
      const more = said.length - limits.answers;
      return [...said.slice(0, limits.answers), more > 0 ? `…and ${plural(more, 'more answer')}` : ''];
    },
    score: () => {
      const { total, fit, engagement: engagementPoints, breakdown } = handoff.score;
      const top = input.topReasons ?? 3;
      return [
        `${total}/100 (fit ${round(fit)}, engagement ${round(engagementPoints)})`,
        // Each reason already states its points.
        ...breakdown.slice(0, top).map((line) => value(line.reason)),
        breakdown.length > top ? `…and ${breakdown.length - top} more` : '',
      ];
    },
    source: () => attribution(profile, events[0]),
    next: () => [
      nextStep(handoff, engaged),
      input.slaDueAt !== undefined ? `SLA due ${clock.full(input.slaDueAt)}` : '',
      input.owner ? `Owner: ${value(input.owner.name) || `ID ${value(input.owner.id)}`}` : '',
    ],
  };

  const sections = [...new Set(input.sections ?? ALL_SECTIONS)];
  const compose = (): Rendered => ({
    subject,
    blocks: [
      ...sections.map((key) => ({ title: TITLES[key], items: build[key]() })),
      {
        title: `Last ${plural(limits.recent, 'event')} (${clock.zone})`,
        items: recent.slice(0, limits.recent),
      },
    ]
      .map((block) => ({ ...block, items: block.items.filter(Boolean) }))
      .filter((block) => block.items.length > 0),
    link: timelineUrl,
    marker: handoffMarker(handoff.id),
  });
  let note = compose();
  for (let text = renderText(note); text.length > TEXT_BUDGET; text = renderText(note)) {
    const list = giveWay.find(([key, min]) => limits[key] > min);
    if (!list) break;
    limits[list[0]]--;
    note = compose();
  }
  return { subject, text: renderText(note), html: renderHtml(note) };
}

const TITLES: Record<NoteSection, string> = {
  who: 'Who',
  where: 'Where',
  what: 'What they engaged with',
  when: 'When',
  why: 'Why (in their words)',
  score: 'Score',
  source: 'Source',
  next: 'Next step',
};

interface Rendered {
  subject: string;
  blocks: { title: string; items: string[] }[];
  /** The full timeline, in place of the last events ('' for none). */
  link: string;
  marker: string;
}

function renderText(note: Rendered): string {
  const list = (title: string, items: string[]) => ['', `${title}:`, ...items.map((i) => `- ${i}`)];
  return [
    note.subject,
    ...note.blocks.flatMap((b) => list(b.title, b.items)),
    ...(note.link ? ['', `Full timeline: ${note.link}`] : []),
    '',
    note.marker,
  ].join('\n');
}

function renderHtml(note: Rendered): string {
  const list = (title: string, items: string[]) =>
    `<p><strong>${esc(title)}</strong></p><ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`;
  const link = note.link && esc(note.link);
  const safe = note.link && /^https?:\/\//i.test(note.link);
  return [
    `<p><strong>${esc(note.subject)}</strong></p>`,
    ...note.blocks.map((b) => list(b.title, b.items)),
    link ? `<p><strong>Full timeline:</strong> ${safe ? `<a href="${link}">${link}</a>` : link}</p>` : '',
    `<p>${esc(note.marker)}</p>`,
  ].join('');
}

type Counted = [name: string, count: number];

interface Engagement {
  /** Viewed pages, most visited first. */
  pages: Counted[];
  /** Forms, demo requests, webinars and email clicks, a line each. */
  lines: string[];
  kinds: Record<Stage, Counted[]>;
  handRaised: boolean;
}

function engagement(events: readonly EngagementEvent[]): Engagement {
  const pages = new Map<string, number>();
  const byType = new Map<string, Map<string, number>>();
  const kinds = { early: new Map<string, number>(), late: new Map<string, number>() };
  for (const e of events) {
    const detail = detailOf(e);
    if (e.type === 'page_view') {
      if (!detail) continue;
      bump(pages, detail);
    } else if (e.type in ENGAGEMENT_LINES) {
      const names = byType.get(e.type) ?? new Map<string, number>();
      byType.set(e.type, bump(names, detail));
    } else continue;
    const kind = kindOf(e);
    if (kind) bump(kinds[kind.stage], kind.kind);
  }
  const lines = Object.entries(ENGAGEMENT_LINES).flatMap(([type, label]) => {
    const names = byType.get(type);
    if (!names) return [];
    const named = ranked(names).filter(([name]) => name);
    const total = [...names.values()].reduce((a, b) => a + b, 0);
    if (!named.length) return [`${label}: ${total}`];
    const more = named.length - MAX_NAMES;
    return [
      `${label}: ${named.slice(0, MAX_NAMES).map(counted).join(', ')}${more > 0 ? ` +${more} more` : ''}`,
    ];
  });
  return {
    pages: ranked(pages),
    lines,
    kinds: { early: ranked(kinds.early), late: ranked(kinds.late) },
    handRaised: events.some((e) => e.type === 'demo_request'),
  };
}

function kindOf(e: EngagementEvent): { kind: string; stage: Stage } | undefined {
  if (e.type === 'demo_request') return { kind: 'demo', stage: 'late' };
  if (e.type.startsWith('webinar_')) return { kind: 'webinar', stage: 'early' };
  const about = CONTENT_KEYS.map((key) => withoutQuery(value(e.properties[key]))).join(' ');
  return CONTENT_KINDS.find((k) => k.pattern.test(about));
}

/** "Mostly late-stage: pricing ×3, case study (early: blog)". */
function stageLine(kinds: Record<Stage, Counted[]>): string {
  const late = sum(kinds.late);
  const early = sum(kinds.early);
  const list = (items: Counted[]) => items.slice(0, 4).map(counted).join(', ');
  if (late > early)
    return `Mostly late-stage: ${list(kinds.late)}${early ? ` (early: ${list(kinds.early)})` : ''}`;
  if (early > late)
    return `Mostly early-stage: ${list(kinds.early)}${late ? ` (late: ${list(kinds.late)})` : ''}`;
  return late ? `Mixed: late-stage ${list(kinds.late)}; early-stage ${list(kinds.early)}` : '';
}

function timing(events: readonly EngagementEvent[], at: number, clock: Clock): string[] {
  const first = events[0];
  const last = events.at(-1);
  if (!first || !last) return [];
  const firstTouch = `${clock.full(first.occurredAt)}, ${relative(first.occurredAt - at)}`;
  const recent = events.filter((e) => e.occurredAt > at - 7 * DAY_MS).length;
  const before = events.filter(
    (e) => e.occurredAt <= at - 7 * DAY_MS && e.occurredAt > at - 37 * DAY_MS,
  ).length;
  return [
    ...(first === last
      ? [`Only touch: ${firstTouch} (${describeEvent(last)})`]
      : [`First touch: ${firstTouch}`, `Latest: ${relative(last.occurredAt - at)} (${describeEvent(last)})`]),
    `Activity: ${plural(recent, 'event')} in the last 7 days, ${before} in the 30 days before`,
  ];
}

/** What the lead wrote in forms, newest first and verbatim (clipped); nothing when they wrote nothing. */
function statedNeeds(events: readonly EngagementEvent[]): string[] {
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

function attribution(profile: Profile, first: EngagementEvent | undefined): string[] {
  const pick = (...values: (PropertyValue | undefined)[]) => values.map((v) => value(v)).find(Boolean) ?? '';
  const source = pick(profile.source, profile.utmSource, first?.properties.utm_source);
  const detail = value(profile.sourceDetail);
  return [
    source && detail ? `${source} (${detail})` : source || detail,
    labelled(
      'Campaign',
      pick(profile.campaign, profile.utmCampaign, first?.properties.utm_campaign, first?.properties.campaign),
    ),
  ];
}

function nextStep(handoff: Handoff, engaged: Engagement): string {
  if (handoff.trigger === 'hand_raise' || engaged.handRaised) return 'Call within the SLA and book the demo';
  const late = sum(engaged.kinds.late);
  const early = sum(engaged.kinds.early);
  const evaluating = engaged.kinds.late.slice(0, 2).map(([kind]) => kind);
  if (late > 0 && late >= early) return `Call: they are evaluating (${evaluating.join('/')})`;
  if (early > 0) return 'Email with relevant content before calling';
  return 'Call to qualify';
}

function describeEvent(e: EngagementEvent): string {
  const label = EVENT_LABELS[e.type] ?? humanize(e.type);
  const detail = detailOf(e);
  return detail ? `${label}: ${detail}` : label;
}

function detailOf(e: EngagementEvent): string {
  return withoutQuery(DETAIL_KEYS.map((key) => value(e.properties[key])).find(Boolean) ?? '');
}

/** Tracking parameters make one page look like many. */
function withoutQuery(s: string): string {
  return /^https?:\/\//i.test(s) ? s.replace(/[?#].*$/, '') : s;
}

interface Clock {
  zone: string;
  /** "2026-11-24 09:48 EST" */
  full(at: number): string;
  /** "Nov 24 09:48", for lists headed by the zone. */
  short(at: number): string;
}

function clockFor(timeZone: string): Clock {
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
  };
}

/** "12 min before handoff", "3 days before handoff". */
function relative(ms: number): string {
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
function value(v: PropertyValue | undefined, max = VALUE_MAX): string {
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
function companySize(v: PropertyValue | undefined): string {
  const s = value(v);
  return s && (/^\d[\d,]*$/.test(s) || parseCountRange(s)) ? `${s} employees` : s;
}

function labelled(label: string, v: PropertyValue | undefined): string {
  const s = value(v);
  return s && `${label}: ${s}`;
}

function bump(counts: Map<string, number>, key: string): Map<string, number> {
  return counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Most first; ties keep first-seen order. */
function ranked(counts: Map<string, number>): Counted[] {
  return [...counts].sort((a, b) => b[1] - a[1]);
}

function counted([name, count]: Counted): string {
  return count > 1 ? `${name} ×${count}` : name;
}

function sum(items: Counted[]): number {
  return items.reduce((total, [, count]) => total + count, 0);
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function humanize(key: string): string {
  const words = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
