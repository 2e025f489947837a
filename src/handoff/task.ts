import { handoffMarker } from '../domain/index.js';
import { briefLines, composeBrief, type BriefInput } from './brief.js';
import { value } from './note/format.js';

/**
 * The rep task and the rep alert: the brief only (action, warnings, phone, their time, source,
 * account), short enough to act on at a glance. The task points to the note for the full story;
 * the alert links the CRM record. Pure.
 */

export interface TaskText {
  subject: string;
  /** Plain text; ends with the handoff marker, so a retry finds the task. */
  body: string;
}

export function composeRepTask(input: BriefInput & { timelineUrl?: string }): TaskText {
  const brief = composeBrief(input);
  const timeline = value(input.timelineUrl, Infinity);
  return {
    subject: brief.headline,
    body: [
      ...briefLines(brief),
      `Full story (who, what they did, why, score): the handoff note on this record${timeline ? `, timeline ${timeline}` : ''}.`,
      '',
      handoffMarker(input.handoff.id),
    ].join('\n'),
  };
}

export interface RepAlert {
  /** The same headline as the task. */
  subject: string;
  /** Plain lines under it, warnings first; escaped by the channel that sends them. */
  lines: string[];
  /** The lead's record in the CRM, '' when there is none to link. */
  link: string;
}

export function composeRepAlert(input: BriefInput & { recordUrl?: string }): RepAlert {
  const brief = composeBrief(input);
  const link = value(input.recordUrl, Infinity);
  return { subject: brief.headline, lines: briefLines(brief), link: /^https?:\/\//i.test(link) ? link : '' };
}
