import type { EngagementEvent } from '../../domain/index.js';
import { humanize, value } from './format.js';

/** What the lead engaged with (pages, forms, webinars) and the buying stage it suggests. Pure. */

const MAX_NAMES = 3;

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

export type Counted = [name: string, count: number];

export interface Engagement {
  /** Viewed pages, most visited first. */
  pages: Counted[];
  /** Forms, demo requests, webinars and email clicks, a line each. */
  lines: string[];
  kinds: Record<Stage, Counted[]>;
  handRaised: boolean;
}

export function engagement(events: readonly EngagementEvent[]): Engagement {
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
export function stageLine(kinds: Record<Stage, Counted[]>): string {
  const late = sum(kinds.late);
  const early = sum(kinds.early);
  const list = (items: Counted[]) => items.slice(0, 4).map(counted).join(', ');
  if (late > early)
    return `Mostly late-stage: ${list(kinds.late)}${early ? ` (early: ${list(kinds.early)})` : ''}`;
  if (early > late)
    return `Mostly early-stage: ${list(kinds.early)}${late ? ` (late: ${list(kinds.late)})` : ''}`;
  return late ? `Mixed: late-stage ${list(kinds.late)}; early-stage ${list(kinds.early)}` : '';
}

export function describeEvent(e: EngagementEvent): string {
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

function bump(counts: Map<string, number>, key: string): Map<string, number> {
  return counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Most first; ties keep first-seen order. */
function ranked(counts: Map<string, number>): Counted[] {
  return [...counts].sort((a, b) => b[1] - a[1]);
}

export function counted([name, count]: Counted): string {
  return count > 1 ? `${name} ×${count}` : name;
}

export function sum(items: Counted[]): number {
  return items.reduce((total, [, count]) => total + count, 0);
}
