import type {
  EngagementEvent,
  FieldLabels,
  Handoff,
  Profile,
  PropertyValue,
  RepTask,
} from '../domain/index.js';
import { describeVerdict, type HandRaiseVerdict, type LeadWarning } from './guardrails.js';
import { clockFor, humanize, labelled, shown, value, type Clock } from './note/format.js';
import { leadZone } from './note/zone.js';

/**
 * What a rep must see in the first ten seconds, the same in the task, the note and the alert: the
 * action (who, why, by when, in the lead's own time), the warnings, how to reach them, where they
 * came from and who else we know at the company. Pure: every input is passed in.
 */
export interface BriefInput {
  handoff: Handoff;
  profile: Profile;
  events: readonly EngagementEvent[];
  /** The rep the lead goes to. */
  owner?: { id: string; name?: string };
  /** When the rep must have acted (the task's due time). */
  slaDueAt?: number;
  /** The rep's IANA time zone: times not in the lead's own zone are shown in it (default UTC). */
  timeZone?: string;
  /** What the rep is asked to do (the task type; default CALL). */
  action?: RepTask['type'];
  /** The lead's flags, most serious first. */
  warnings?: readonly LeadWarning[];
  /** What the guardrails made of a hand-raise, when they changed anything. */
  verdict?: HandRaiseVerdict;
  /** The CRM's labels for option values (`COMPUTER_SOFTWARE` → its label). */
  labels?: FieldLabels;
  /** Others we know at the same company. */
  account?: AccountContext;
}

/** The lead's company as our records know it: its account owner and the other people there. */
export interface AccountContext {
  domain: string;
  /** Who owns the company's leads (account-owner routing), by name. */
  ownerName?: string;
  /** Other people of the same email domain, most recently seen first. */
  contacts: { name: string; title?: string; stage?: string; ownerName?: string }[];
  /** How many more beyond those listed. */
  more: number;
}

export interface Brief {
  /** "Call Grace Kim (VP RevOps, Initech) — demo request — due 09:15 their time". */
  headline: string;
  /** "⚠ Free email (gmail.com)", one line each, most serious first. */
  warnings: string[];
  /** "Phone: …", or ''. */
  phone: string;
  /** "Their time: Tue 08:58 at handoff (America/Los_Angeles)", or why it is unknown. */
  localTime: string;
  source: SourceParts;
  /** "Account initech.com: Bob Lee (CTO, SQL), Ann Wu; account owner Ana Ruiz", or ''. */
  account: string;
  /** What the guardrails did to the hand-raise, or ''. */
  guardrail: string;
}

/** Where the lead came from, each part '' when unknown. */
export interface SourceParts {
  /** Original source with its drill-down: "Organic search (google)". */
  first: string;
  /** Latest source, when it differs from the original. */
  latest: string;
  campaign: string;
}

/** The brief's lines for the task body and the alert, those known, warnings first. */
export function briefLines(brief: Brief): string[] {
  return [
    ...brief.warnings,
    brief.guardrail,
    brief.phone,
    brief.localTime,
    sourceLine(brief.source),
    brief.account,
  ].filter(Boolean);
}

const VERBS: Record<RepTask['type'], string> = { CALL: 'Call', EMAIL: 'Email', TODO: 'Follow up with' };
/** What a hand-raise asked for, as a rep would say it. */
const ASKED: Record<string, string> = {
  demo_request: 'demo request',
  form_submission: 'form submitted',
  contact_request: 'contact request',
  trial_signup: 'trial signup',
};
const ACCOUNT_CONTACTS_IN_LINE = 2;

export function composeBrief(input: BriefInput): Brief {
  const { handoff, profile } = input;
  const repClock = clockFor(input.timeZone ?? 'UTC');
  const zone = leadZone(profile);
  const leadClock = zone.zone === null ? null : clockFor(zone.zone);
  const who = personName(profile) || value(profile.email) || 'the lead';
  const role = [value(profile.jobTitle), value(profile.company)].filter(Boolean).join(', ');
  const due =
    input.slaDueAt === undefined ? '' : dueText(input.slaDueAt, handoff.decidedAt, leadClock, repClock);
  const headline = [
    `${VERBS[input.action ?? 'CALL']} ${who}${role ? ` (${role})` : ''}`,
    reasonText(handoff, input.events),
    due,
  ]
    .filter(Boolean)
    .join(' — ');

  const localTime =
    zone.zone === null
      ? `Their time: unknown (${zone.why})`
      : `Their time: ${clockFor(zone.zone).dayTime(handoff.decidedAt)} at handoff (${zone.zone}${
          zone.from === 'crm' ? '' : `, from the ${zone.from}`
        })`;
  return {
    headline,
    warnings: (input.warnings ?? []).map((w) => `⚠ ${w.text}`),
    phone: labelled('Phone', profile.phone) || labelled('Mobile', profile.mobilePhone),
    localTime,
    source: sourceParts(input.profile, input.events, input.labels),
    account: input.account ? accountLine(input.account) : '',
    guardrail: input.verdict ? describeVerdict(input.verdict) : '',
  };
}

export function personName(profile: Profile): string {
  return [profile.firstName, profile.lastName]
    .map((v) => value(v))
    .filter(Boolean)
    .join(' ');
}

/** "demo request" for a hand-raise, "MQL at score 56" for a threshold. */
function reasonText(handoff: Handoff, events: readonly EngagementEvent[]): string {
  const stage = handoff.stage.toUpperCase();
  if (handoff.trigger !== 'hand_raise') return `${stage} at score ${handoff.score.total}`;
  const type = events.find((e) => e.id === handoff.triggerEventId)?.type ?? 'demo_request';
  return ASKED[type] ?? humanize(type).toLowerCase();
}

/** In the lead's own time when known ("due 09:15 their time"), else the rep's ("due 14:00 EST"). */
function dueText(dueAt: number, from: number, leadClock: Clock | null, repClock: Clock): string {
  const clock = leadClock ?? repClock;
  const when = clock.sameDay(dueAt, from) ? clock.time(dueAt) : clock.dayTime(dueAt);
  if (leadClock) return `due ${when} their time`;
  const abbreviation = repClock.full(dueAt).split(' ').at(-1) ?? repClock.zone;
  return `due ${when} ${abbreviation}`;
}

/** Original and latest source (label, drill-down) and the campaign, from the profile, else the events. */
export function sourceParts(
  profile: Profile,
  events: readonly EngagementEvent[],
  labels: FieldLabels | undefined,
): SourceParts {
  const source = (field: string, detail: string) => {
    const name = shown(field, profile[field], labels);
    const more = shown(detail, profile[detail], labels);
    return name && more ? `${name} (${more})` : name || more;
  };
  const first = source('source', 'sourceDetail') || value(events[0]?.properties.utm_source);
  const latest = source('latestSource', 'latestSourceDetail');
  return {
    first,
    latest: latest === first ? '' : latest,
    campaign: shown('campaign', campaignOf(profile, events), labels),
  };
}

/** "Source: Organic search (google) · latest: Paid social (linkedin) · Campaign: Q4 webinar". */
function sourceLine(source: SourceParts): string {
  return [
    source.first && `Source: ${source.first}`,
    source.latest && `latest: ${source.latest}`,
    labelled('Campaign', source.campaign),
  ]
    .filter(Boolean)
    .join(' · ');
}

/** The CRM's campaign, else the newest campaign an event names (a Salesforce campaign response, a UTM tag). */
function campaignOf(profile: Profile, events: readonly EngagementEvent[]): PropertyValue | undefined {
  if (value(profile.campaign)) return profile.campaign;
  for (let i = events.length - 1; i >= 0; i--) {
    const p = events[i]!.properties;
    const named = value(p.campaign) || value(p.utm_campaign);
    if (named) return named;
  }
  return undefined;
}

/** "Account initech.com: Bob Lee (CTO, SQL, Ana Ruiz), Ann Wu +1 more; account owner Ana Ruiz". */
function accountLine(account: AccountContext): string {
  const listed = account.contacts.slice(0, ACCOUNT_CONTACTS_IN_LINE).map(describeContact);
  if (!listed.length && !account.ownerName) return '';
  const more = account.contacts.length - listed.length + account.more;
  const people = listed.length
    ? `${listed.join(', ')}${more > 0 ? ` +${more} more` : ''}`
    : 'no one else known yet';
  return `Account ${account.domain}: ${people}${account.ownerName ? `; account owner ${account.ownerName}` : ''}`;
}

export function describeContact(c: AccountContext['contacts'][number]): string {
  const about = [c.title, c.stage, c.ownerName && `owner ${c.ownerName}`].filter(Boolean).join(', ');
  return `${c.name}${about ? ` (${about})` : ''}`;
}
