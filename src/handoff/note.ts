import type { EngagementEvent, Handoff, Profile } from '../domain/index.js';

export interface NoteInput {
  handoff: Handoff;
  profile: Profile;
  events: readonly EngagementEvent[];
  /** Most important reasons shown; the rest are summarized in one line. */
  topReasons?: number;
  /** Most recent events listed. */
  recentEvents?: number;
}

export interface HandoffNote {
  subject: string;
  /** Plain text, for CRMs and channels that take no markup. */
  text: string;
  /** HubSpot-safe HTML (paragraphs, lists, bold; everything escaped). */
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

/** Pure: who, why and what happened, readable in 30 seconds. */
export function composeHandoffNote(input: NoteInput): HandoffNote {
  const { handoff, profile } = input;
  const topN = input.topReasons ?? 5;
  const recentN = input.recentEvents ?? 8;
  const name =
    [profile.firstName, profile.lastName].filter(present).join(' ') || String(profile.email ?? 'Lead');
  const stage = handoff.stage.toUpperCase();
  const why = handoff.trigger === 'hand_raise' ? 'raised their hand' : `crossed the ${stage} threshold`;
  const subject = `${stage}: ${name} ${why} (score ${handoff.score.total})`;

  const who = [
    profile.jobTitle && profile.company
      ? `${str(profile.jobTitle)} at ${str(profile.company)}`
      : str(profile.jobTitle ?? profile.company),
    str(profile.email),
    str(profile.country),
  ].filter(Boolean);

  const lines = handoff.score.breakdown;
  // Each reason already states its points.
  const reasons = lines.slice(0, topN).map((l) => l.reason);
  if (lines.length > topN) reasons.push(`…and ${lines.length - topN} smaller factors`);

  const recent = [...input.events]
    .sort((a, b) => b.occurredAt - a.occurredAt)
    .slice(0, recentN)
    .map(
      (e) =>
        `${new Date(e.occurredAt).toISOString().slice(0, 16).replace('T', ' ')} UTC — ${describeEvent(e)}`,
    );

  const scoreLine = `Score ${handoff.score.total}/100 (fit ${round(handoff.score.fit)}, engagement ${round(handoff.score.engagement)})`;
  const sections: [string, string[]][] = [
    ['Who', who.length ? who : ['No profile details yet']],
    ['Why now', [scoreLine, ...reasons]],
    ['Recent activity', recent.length ? recent : ['No tracked activity']],
  ];

  const text = [
    subject,
    ...sections.flatMap(([title, items]) => ['', `${title}:`, ...items.map((i) => `- ${i}`)]),
    '',
    handoffMarker(handoff.id),
  ].join('\n');

  const html = [
    `<p><strong>${esc(subject)}</strong></p>`,
    ...sections.map(
      ([title, items]) =>
        `<p><strong>${esc(title)}</strong></p><ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`,
    ),
    `<p>${esc(handoffMarker(handoff.id))}</p>`,
  ].join('');

  return { subject, text, html };
}

function describeEvent(e: EngagementEvent): string {
  const label = EVENT_LABELS[e.type] ?? e.type.replace(/_/g, ' ');
  const detail = Object.values(e.properties).filter(present).map(String)[0];
  return detail ? `${label}: ${detail}` : label;
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

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
