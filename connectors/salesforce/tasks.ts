import type { Salesforce } from '../../src/config/schema.js';
import { containsMarker, handoffMarker, type RepTask } from '../../src/domain/index.js';
import { checkId } from './api.js';

// The Tasks the adapter writes: a rep task, or a closed Task carrying the handoff note. Pure.

/** Task.Description and other long text areas we fill hold at most this much. */
export const DESCRIPTION_MAX = 32_000;
const SUBJECT_MAX = 255;
/** Subject of the closed Task that carries a handoff note when there is no rep task. */
export const NOTE_SUBJECT = 'Leadflow handoff note';
const PRIORITY = { HIGH: 'High', MEDIUM: 'Normal', LOW: 'Low' } as const;
const SUBTYPE = { CALL: 'Call', EMAIL: 'Email', TODO: 'Task' } as const;

/** A rep task's fields: open, due on the day, with the marker line of `key`. */
export function repTaskFields(
  config: Salesforce,
  whoId: string,
  key: string,
  task: RepTask,
): Record<string, unknown> {
  if (task.ownerId) checkId(task.ownerId, 'owner');
  return {
    WhoId: whoId,
    ...(task.ownerId ? { OwnerId: task.ownerId } : {}),
    Subject: task.subject.slice(0, SUBJECT_MAX),
    Description: fitDescription(task.body, key),
    ActivityDate: activityDate(task.dueAt),
    Status: config.taskStatus,
    Priority: PRIORITY[task.priority],
    TaskSubtype: SUBTYPE[task.type],
  };
}

/** A note is a closed Task: Salesforce's activity history is where reps read it. */
export function noteFields(
  config: Salesforce,
  whoId: string,
  note: { key: string; subject: string; text: string; ownerId: string | null; at: number },
): Record<string, unknown> {
  const { key, subject, text, ownerId, at } = note;
  const owner = ownerId && config.routing === 'leadflow' ? ownerId : undefined;
  if (owner) checkId(owner, 'owner');
  return {
    WhoId: whoId,
    ...(owner ? { OwnerId: owner } : {}),
    Subject: subject.slice(0, SUBJECT_MAX),
    Description: fitDescription(text, key),
    ActivityDate: activityDate(at),
    Status: config.noteStatus,
    Priority: PRIORITY.MEDIUM,
    TaskSubtype: SUBTYPE.TODO,
  };
}

/** Pure: a Description within Salesforce's limit that still ends with the marker line. */
export function fitDescription(text: string, key: string): string {
  const marker = handoffMarker(key);
  const body = containsMarker(text, key) ? text : `${text}\n${marker}`;
  if (body.length <= DESCRIPTION_MAX) return body;
  const tail = `\n… (truncated)\n${marker}`;
  return body.slice(0, DESCRIPTION_MAX - tail.length) + tail;
}

/**
 * Task.ActivityDate is a date without time. The due date in UTC: the owner's time zone is not
 * known here, so near midnight the task may show a day early or late for the rep.
 */
export function activityDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
