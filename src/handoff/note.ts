import { handoffMarker, type EngagementEvent, type Handoff, type HandoffNote } from '../domain/index.js';
import { composeBrief, describeContact, personName, type BriefInput } from './brief.js';
import { counted, describeEvent, engagement, stageLine, sum, type Engagement } from './note/engagement.js';
import {
  clockFor,
  companySize,
  labelled,
  plural,
  relative,
  round,
  shown,
  value,
  type Clock,
} from './note/format.js';
import { statedNeeds } from './note/needs.js';
import { renderHtml, renderText, type Rendered } from './note/render.js';
import { DAY_MS } from '../domain/time.js';

export type NoteSection = 'who' | 'where' | 'what' | 'when' | 'why' | 'score' | 'source' | 'account' | 'next';
const ALL_SECTIONS: NoteSection[] = [
  'who',
  'where',
  'what',
  'when',
  'why',
  'score',
  'source',
  'account',
  'next',
];

export interface NoteInput extends BriefInput {
  /** Most important score reasons shown (default 3); the rest are counted in one line. */
  topReasons?: number;
  /** Link to the full timeline; without it the last events are appended. */
  timelineUrl?: string;
  /** Which sections, in which order (default: all). */
  sections?: readonly NoteSection[];
}

/**
 * About what a rep reads in 30 seconds (the action headline, their time and the account context
 * included); the appended event list gives way first.
 */
const TEXT_BUDGET = 1_800;
const RECENT_EVENTS = 10;
const MAX_PAGES = 5;
const MAX_ANSWERS = 3;

/**
 * Pure. A note a rep reads in 30 seconds: the action and the warnings first (the task's headline),
 * then who the lead is, where (with their local time), what they engaged with, when, why (their own
 * words only, never guessed), the score and its top reasons, where they came from, who else we know
 * at the company, and a suggested next step. Lines with no data are left out, never filled in.
 */
export function composeHandoffNote(input: NoteInput): HandoffNote {
  const { handoff, profile } = input;
  const events = [...input.events].sort((a, b) => a.occurredAt - b.occurredAt);
  const clock = clockFor(input.timeZone ?? 'UTC');
  const person = personName(profile);
  const stage = handoff.stage.toUpperCase();
  const brief = composeBrief(input);
  const subject = brief.headline;
  const labels = input.labels;
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
      const size = companySize(shown('companySize', profile.companySize, labels));
      const industry = shown('industry', profile.industry, labels);
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
      const crmStage = shown('lifecycleStage', profile.lifecycleStage, labels);
      return [
        [profile.city, profile.state, profile.country]
          .map((v) => value(v))
          .filter(Boolean)
          .join(', '),
        brief.localTime,
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
    source: () => [
      labelled('Original', brief.source.first),
      labelled('Latest', brief.source.latest),
      labelled('Campaign', brief.source.campaign),
    ],
    account: () => {
      const account = input.account;
      if (!account) return [];
      const known = account.contacts.length > 0 || account.ownerName;
      return [
        `${account.domain}: ${account.ownerName ? `account owner ${account.ownerName}` : known ? 'no account owner yet' : 'no one else known yet'}`,
        ...account.contacts.map(describeContact),
        account.more > 0 ? `…and ${account.more} more` : '',
      ];
    },
    next: () => [
      brief.guardrail,
      nextStep(handoff, engaged),
      input.slaDueAt !== undefined ? `SLA due ${clock.full(input.slaDueAt)}` : '',
      input.owner ? `Owner: ${value(input.owner.name) || `ID ${value(input.owner.id)}`}` : '',
    ],
  };

  const sections = [...new Set(input.sections ?? ALL_SECTIONS)];
  const compose = (): Rendered => ({
    subject,
    lead: brief.warnings,
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
  account: 'Account',
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

function nextStep(handoff: Handoff, engaged: Engagement): string {
  if (handoff.trigger === 'hand_raise' || engaged.handRaised) return 'Call within the SLA and book the demo';
  const late = sum(engaged.kinds.late);
  const early = sum(engaged.kinds.early);
  const evaluating = engaged.kinds.late.slice(0, 2).map(([kind]) => kind);
  if (late > 0 && late >= early) return `Call: they are evaluating (${evaluating.join('/')})`;
  if (early > 0) return 'Email with relevant content before calling';
  return 'Call to qualify';
}
