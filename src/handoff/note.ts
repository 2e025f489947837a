import type { EngagementEvent, Handoff, Profile } from '../domain/index.js';

export type NoteSection = 'who' | 'where' | 'what' | 'when' | 'why' | 'score' | 'source' | 'next';
const ALL_SECTIONS: NoteSection[] = ['who', 'where', 'what', 'when', 'why', 'score', 'source', 'next'];

export interface NoteInput {
  handoff: Handoff;
  profile: Profile;
  events: readonly EngagementEvent[];
  /** Most important score reasons shown; the rest are summarized in one line. */
  topReasons?: number;
  /** The rep the lead goes to. */
  owner?: { id: string; name?: string };
  /** When the rep must have acted (the task's due time). */
  slaDueAt?: number;
  /** The rep's time zone: every time in the note is shown in it. */
  timeZone?: string;
  /** Link to the full timeline; without it the last events are appended. */
  timelineUrl?: string;
  /** Which sections, in which order (default: all). */
  sections?: readonly NoteSection[];
}

export interface HandoffNote {
  subject: string;
  /** Plain text, for CRMs and channels that take no markup. */
  text: string;
  /** HubSpot-safe HTML (paragraphs, lists, bold, http(s) links; everything else escaped). */
  html: string;
}

/** The line a connector searches for to recognise a note it already wrote. */
export function handoffMarker(handoffId: string): string {
  return `Handoff ID: ${handoffId}`;
}

const EVENT_LABELS: Record<string, string> = {
  page_view: 'Viewed page',
  form_submission: 'Submitted form',
  email_open: 'Opened email',
  email_click: 'Clicked email',
  webinar_attended: 'Attended webinar',
  demo_request: 'Requested a demo',
  email_unsubscribe: 'Unsubscribed',
};

/** Content that shows evaluation (late) versus learning (early), by words in its URL or name. */
const LATE_STAGE =
  /pricing|demo|case[-_ ]?stud|customer|comparison|compare|\bvs\b|-vs-|alternative|docs|integration|trial|quote|contact[-_ ]?sales|security/i;
const EARLY_STAGE = /blog|guide|ebook|e-book|whitepaper|webinar|podcast|article|learn|academy|newsletter/i;

/** Event properties that are technical, not something the lead said. */
const NOT_STATED = new Set([
  'url',
  'page',
  'form',
  'formId',
  'form_id',
  'formGuid',
  'webinar',
  'campaign',
  'email',
]);
const STATED_MAX = 300;
const RECENT_EVENTS = 10;
const DAY_MS = 86_400_000;

/**
 * Pure. A note a rep reads in 30 seconds: who the lead is, where, what they engaged with, when, why
 * (their own words only, never guessed), the score and its top reasons, where they came from, and a
 * suggested next step. Lines with no data are left out, never filled in.
 */
export function composeHandoffNote(input: NoteInput): HandoffNote {
  const { handoff, profile } = input;
  const events = [...input.events].sort((a, b) => a.occurredAt - b.occurredAt);
  const timeZone = input.timeZone ?? 'UTC';
  const name =
    [profile.firstName, profile.lastName].filter(present).join(' ') || str(profile.email) || 'Lead';
  const stage = handoff.stage.toUpperCase();
  const why = handoff.trigger === 'hand_raise' ? 'raised their hand' : `crossed the ${stage} threshold`;
  const subject = `${stage}: ${name} ${why} (score ${handoff.score.total})`;
  const content = engagedContent(events);

  const build: Record<NoteSection, () => Item[]> = {
    who: () => [
      [profile.jobTitle, profile.company].every(present)
        ? `${str(profile.jobTitle)} at ${str(profile.company)}`
        : str(profile.jobTitle) || str(profile.company),
      labelled('Email', profile.email),
      labelled('Phone', profile.phone),
      [labelled('Company size', profile.companySize), str(profile.industry)].filter(Boolean).join(', '),
    ],
    where: () => [
      [profile.city, profile.state, profile.country].filter(present).map(String).join(', '),
      labelled('Time zone', profile.timeZone),
      `Journey: ${stage}${present(profile.lifecycleStage) ? ` (CRM stage ${str(profile.lifecycleStage)})` : ''}`,
    ],
    what: () => describeContent(content),
    when: () => describeTiming(events, handoff.decidedAt, timeZone),
    why: () => {
      const stated = statedNeeds(events);
      return stated.length ? stated : ['No stated needs yet'];
    },
    score: () => {
      const lines = handoff.score.breakdown;
      const topN = input.topReasons ?? 3;
      return [
        `Score ${handoff.score.total}/100 (fit ${round(handoff.score.fit)}, engagement ${round(handoff.score.engagement)})`,
        // Each reason already states its points.
        ...lines.slice(0, topN).map((l) => l.reason),
        lines.length > topN ? `…and ${lines.length - topN} more` : '',
      ];
    },
    source: () => attribution(profile, events),
    next: () => [
      nextStep(handoff, content),
      input.owner ? `Owner: ${input.owner.name ?? input.owner.id}` : '',
      input.slaDueAt !== undefined ? `Act by ${formatTime(input.slaDueAt, timeZone)}` : '',
    ],
  };

  const sections = (input.sections ?? ALL_SECTIONS)
    .map((key) => [TITLES[key], build[key]().filter((item) => item !== '')] as const)
    .filter(([, items]) => items.length > 0);
  const timeline: [string, Item[]] = input.timelineUrl
    ? ['Full timeline', [{ href: input.timelineUrl }]]
    : [
        `Last ${Math.min(RECENT_EVENTS, events.length)} events`,
        events
          .slice(-RECENT_EVENTS)
          .reverse()
          .map((e) => `${formatTime(e.occurredAt, timeZone)} — ${describeEvent(e)}`),
      ];
  const all = timeline[1].length ? [...sections, timeline] : sections;

  const text = [
    subject,
    ...all.flatMap(([title, items]) => ['', `${title}:`, ...items.map((i) => `- ${itemText(i)}`)]),
    '',
    handoffMarker(handoff.id),
  ].join('\n');
  const html = [
    `<p><strong>${esc(subject)}</strong></p>`,
    ...all.map(
      ([title, items]) =>
        `<p><strong>${esc(title)}</strong></p><ul>${items.map((i) => `<li>${itemHtml(i)}</li>`).join('')}</ul>`,
    ),
    `<p>${esc(handoffMarker(handoff.id))}</p>`,
  ].join('');
  return { subject, text, html };
}

type Item = string | { href: string };

const TITLES: Record<NoteSection, string> = {
  who: 'Who',
  where: 'Where',
  what: 'What they engaged with',
  when: 'When',
  why: 'In their words',
  score: 'Why now',
  source: 'Source',
  next: 'Next step',
};

interface Content {
  pages: { url: string; views: number; late: boolean; early: boolean }[];
  other: string[];
  late: number;
  early: number;
  handRaised: boolean;
}

function engagedContent(events: readonly EngagementEvent[]): Content {
  const pages = new Map<string, number>();
  const other: string[] = [];
  let late = 0;
  let early = 0;
  for (const e of events) {
    const detail = firstDetail(e);
    if (LATE_STAGE.test(detail) || e.type === 'demo_request') late++;
    else if (EARLY_STAGE.test(detail) || e.type === 'webinar_attended') early++;
    if (e.type === 'page_view' && detail) pages.set(detail, (pages.get(detail) ?? 0) + 1);
    else if (['form_submission', 'webinar_attended', 'email_click', 'demo_request'].includes(e.type))
      other.push(describeEvent(e));
  }
  return {
    pages: [...pages]
      .sort((a, b) => b[1] - a[1])
      .map(([url, views]) => ({ url, views, late: LATE_STAGE.test(url), early: EARLY_STAGE.test(url) })),
    other: [...new Set(other)],
    late,
    early,
    handRaised: events.some((e) => e.type === 'demo_request'),
  };
}

function describeContent(content: Content): string[] {
  const lines = content.pages.slice(0, 5).map((p) => `${p.url}${p.views > 1 ? ` ×${p.views}` : ''}`);
  if (content.pages.length > 5) lines.push(`…and ${content.pages.length - 5} more pages`);
  lines.push(...content.other.slice(0, 4));
  if (content.late || content.early)
    lines.unshift(
      content.late >= content.early
        ? `Mostly late-stage (evaluating): ${content.late} of ${content.late + content.early} tagged touches`
        : `Mostly early-stage (learning): ${content.early} of ${content.late + content.early} tagged touches`,
    );
  return lines;
}

function describeTiming(events: readonly EngagementEvent[], at: number, timeZone: string): string[] {
  const first = events[0];
  const last = events.at(-1);
  if (!first || !last) return [];
  const recent = events.filter((e) => e.occurredAt > at - 7 * DAY_MS).length;
  const before = events.filter(
    (e) => e.occurredAt <= at - 7 * DAY_MS && e.occurredAt > at - 37 * DAY_MS,
  ).length;
  return [
    `First touch ${formatTime(first.occurredAt, timeZone)}`,
    `Latest ${ago(at - last.occurredAt)} before handoff (${describeEvent(last)})`,
    `${recent} touches in the last 7 days, ${before} in the 30 days before`,
  ];
}

/** What the lead wrote in forms, verbatim; nothing when they wrote nothing. */
function statedNeeds(events: readonly EngagementEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.type !== 'form_submission' && e.type !== 'demo_request') continue;
    for (const [key, value] of Object.entries(e.properties)) {
      if (
        NOT_STATED.has(key) ||
        typeof value !== 'string' ||
        value.trim() === '' ||
        /^https?:\/\//.test(value)
      )
        continue;
      const said = value.trim().length > STATED_MAX ? `${value.trim().slice(0, STATED_MAX)}…` : value.trim();
      out.push(`${humanize(key)}: “${said}”`);
    }
  }
  return [...new Set(out)].slice(0, 6);
}

function attribution(profile: Profile, events: readonly EngagementEvent[]): string[] {
  const firstWith = (key: string) => events.find((e) => present(e.properties[key]))?.properties[key];
  const source = profile.source ?? profile.utmSource ?? firstWith('utm_source');
  const campaign =
    profile.campaign ?? profile.utmCampaign ?? firstWith('utm_campaign') ?? firstWith('campaign');
  return [
    present(source)
      ? `Source: ${str(source)}${present(profile.sourceDetail) ? ` (${str(profile.sourceDetail)})` : ''}`
      : '',
    labelled('Campaign', campaign),
  ];
}

function nextStep(handoff: Handoff, content: Content): string {
  if (handoff.trigger === 'hand_raise' || content.handRaised) return 'Call within the SLA and book the demo';
  if (content.late >= content.early && content.late > 0)
    return 'Call: they are evaluating (pricing, case studies, comparisons)';
  if (content.early > 0) return 'Email with content that fits what they read, then call';
  return 'Call to qualify: fit is strong, engagement is thin';
}

function describeEvent(e: EngagementEvent): string {
  const label = EVENT_LABELS[e.type] ?? humanize(e.type);
  const detail = firstDetail(e);
  return detail ? `${label}: ${detail}` : label;
}

function firstDetail(e: EngagementEvent): string {
  return Object.values(e.properties).filter(present).map(String)[0] ?? '';
}

function formatTime(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')} ${get('timeZoneName')}`;
}

function ago(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h`;
  return `${Math.round(minutes / 1440)} days`;
}

function labelled(label: string, value: unknown): string {
  return present(value) ? `${label}: ${str(value)}` : '';
}

function humanize(key: string): string {
  const words = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function present(v: unknown): boolean {
  return v !== null && v !== undefined && v !== '';
}

function str(v: unknown): string {
  return present(v) ? String(v) : '';
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function itemText(item: Item): string {
  return typeof item === 'string' ? item : item.href;
}

/** Only http(s) links become anchors; anything else is shown as escaped text. */
function itemHtml(item: Item): string {
  if (typeof item === 'string') return esc(item);
  return /^https?:\/\//i.test(item.href)
    ? `<a href="${esc(item.href)}">${esc(item.href)}</a>`
    : esc(item.href);
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
