import {
  handoffMarker,
  type EngagementEvent,
  type Handoff,
  type HandoffNote,
  type Profile,
  type PropertyValue,
} from '../domain/index.js';
import { counted, describeEvent, engagement, stageLine, sum, type Engagement } from './note/engagement.js';
import {
  clockFor,
  companySize,
  labelled,
  plural,
  relative,
  round,
  value,
  type Clock,
} from './note/format.js';
import { statedNeeds } from './note/needs.js';
import { renderHtml, renderText, type Rendered } from './note/render.js';

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
const MAX_ANSWERS = 3;
const DAY_MS = 86_400_000;

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
