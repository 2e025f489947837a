import type {
  Crm,
  EngagementEvent,
  FieldLabels,
  LeadRef,
  Owner,
  Profile,
  ProfileChange,
  RepTask,
  Score,
} from '../src/domain/index.js';
import type { CrmError } from './errors.js';

/** A score to store on a lead's CRM record. */
export interface ScoreWrite {
  lead: LeadRef;
  score: Score;
}

/** One lead's part of a batch that failed for that lead only (HubSpot 207, Salesforce per-record errors). */
export interface RecordFailure {
  lead: LeadRef;
  error: CrmError;
}

/** One CRM request as metrics see it. */
export interface CrmCallObservation {
  endpoint: string;
  /** `ok`, an HTTP status, or `network`. */
  outcome: string;
  seconds: number;
  /** How long the call waited for the shared rate budget before it went out. */
  budgetWaitSeconds: number;
}

/** One page of existing CRM records, for backfills. */
export interface LeadPage {
  leads: { lead: LeadRef; profile: Profile }[];
  /** Cursor of the next page; absent on the last one. */
  next?: string;
}

/** A note or task the connector created, or found from an earlier attempt. */
export interface CreatedRecord {
  id: string;
  /** false when an earlier attempt had already created it. */
  created: boolean;
}

/** Proof a rep worked the lead: what and when. */
export interface RepActivity {
  what: string;
  at: number;
}

/** What a sales disposition does to the CRM record. */
export type DispositionWrite = 'recycle' | 'disqualify' | 'unmarket' | 'bad_data';

/** A whole handoff in one write, for a CRM that can make it one request (Salesforce composite). */
export interface HandoffWrite {
  lead: LeadRef;
  handoffId: string;
  stage: 'mql' | 'sql';
  /** Our copy of the CRM's current stage, as for `advanceStage`. */
  knownStage?: string;
  ownerId: string | null;
  score: Score;
  /**
   * The note: the rep task's body, or a completed activity of its own when there is no task
   * (Salesforce, plain text); a note of its own in HTML (HubSpot).
   */
  note: { subject: string; text: string; html: string };
  task: RepTask | null;
  /** An earlier attempt may have reached the CRM: look for its task by marker before creating one. */
  mayExist: boolean;
}

/** What a handoff's stage write did. */
export interface StageAdvance {
  /** The CRM's stage afterwards. */
  stage: string;
  /**
   * false when the record was already at or past the handoff stage (sales has it): neither our owner
   * nor our lead status stands on it, and the handoff must not count as one.
   */
  advanced: boolean;
  /** Properties our write had changed before the CRM showed the stage had moved on, put back as they were. */
  restored?: string[];
}

export interface HandoffWritten extends StageAdvance {
  /** The activity carrying the note (the rep task when there is one). */
  note: CreatedRecord;
  task: CreatedRecord | null;
  /**
   * Sales had already converted the record (a Salesforce Lead, read-only since): this is what it
   * became. The handoff went there as scores and a note only — owner, stage and the rep task are
   * sales' own by now — and later writes for the lead belong there.
   */
  convertedTo?: LeadRef;
}

/**
 * What the worker needs from a CRM. Every method throws CrmError on failure, so the
 * writeback job can classify it without knowing which CRM it talks to.
 */
export interface CrmConnector {
  readonly crm: Crm;
  /** Creates the custom score fields if missing. Safe to call repeatedly. */
  ensureSchema(): Promise<void>;
  /** The lead's profile in canonical field names (only the mapped fields). */
  readProfile(lead: LeadRef): Promise<Profile>;
  /** Existing leads page by page, oldest cursor first, for backfills. */
  listLeads(after: string | undefined, limit: number): Promise<LeadPage>;
  /** How many leads `listLeads` pages through, for a backfill's progress; absent where the CRM cannot tell cheaply. */
  countLeads?(): Promise<number>;
  /** Writes score fields for many leads; returns the leads whose records failed. */
  writeScores(writes: ScoreWrite[]): Promise<RecordFailure[]>;
  /**
   * Moves the lifecycle stage forward to MQL or SQL (never backward) and, in the same write, assigns
   * the owner and marks the lead status as handed off. `knownStage` is our copy of the CRM's
   * current value: with it the connector can skip reading the record first. A record at or past the
   * stage keeps its owner and status (`advanced: false`).
   */
  advanceStage(
    lead: LeadRef,
    stage: 'mql' | 'sql',
    knownStage?: string,
    ownerId?: string | null,
  ): Promise<StageAdvance>;
  /**
   * Creates the handoff note once per handoff id. The body carries the handoff id; when
   * `mayExist` (an earlier attempt may have reached the CRM) the connector first looks for
   * a note with that id on the lead and returns it instead of creating a second one.
   */
  createHandoffNote(
    lead: LeadRef,
    handoffId: string,
    body: string,
    mayExist: boolean,
  ): Promise<CreatedRecord>;
  /** Creates the rep task once per `key` (a handoff id, or one of its escalations), as for notes. */
  createRepTask(lead: LeadRef, key: string, task: RepTask, mayExist: boolean): Promise<CreatedRecord>;
  /**
   * Deletes a note or task a handoff created, when the handoff turned out to be none (the record's
   * stage had moved on: sales owns it). One already gone counts as deleted.
   */
  deleteActivity(lead: LeadRef, kind: 'note' | 'task', id: string): Promise<void>;
  /** Gives the lead and its open task to another owner (SLA reassignment). */
  reassign(lead: LeadRef, ownerId: string, taskId: string | null): Promise<void>;
  /** The rep's first sign of work on the lead since `since`, or null when there is none yet. */
  repActivity(lead: LeadRef, since: number, taskId: string | null): Promise<RepActivity | null>;
  /** Every owner the CRM knows, deactivated ones with `active: false`. */
  owners(): Promise<Owner[]>;
  /**
   * What the CRM shows for the stored values of the mapped option fields (HubSpot property options,
   * Salesforce picklists): canonical field → value → label. Read rarely and shared by the process.
   */
  fieldLabels(): Promise<FieldLabels>;
  /** The lead's record in the CRM's web app, for a rep to open from an alert. */
  recordUrl(lead: LeadRef): Promise<string>;
  /** Writes a sales disposition's outcome: recycle (stage back, verified), disqualify, unmarket, bad data. */
  applyDisposition(lead: LeadRef, action: DispositionWrite): Promise<void>;
  /**
   * Optional: stage, owner, score fields, note and task in one write (Salesforce: one request, all
   * or nothing; HubSpot, batching: shared batch requests). Without it the writeback job makes the
   * separate calls above in parallel.
   */
  writeHandoff?(write: HandoffWrite): Promise<HandoffWritten>;
  /**
   * The record with this email, for a handoff from the other CRM; with `create`, a new lead is
   * made from the profile when none exists. null when there is no email or no match.
   */
  matchLead(profile: Profile, create: boolean): Promise<LeadRef | null>;
}

/** What one page of a poll found, and how far the poll has read once the page is queued. */
export interface PolledPage {
  events: EngagementEvent[];
  profile: ProfileChange[];
  watermark: number;
  /** Records read but not usable (no matching lead, malformed): counted in metrics. */
  skipped?: number;
}

/** Pulls what the CRM sends no webhooks for (email events, form submissions, missed changes). */
export interface EngagementSource {
  /** Reads what changed since `watermark` (ms), page by page; ids are stable, so a re-read page dedupes. */
  poll(source: string, watermark: number, now: number): AsyncIterable<PolledPage>;
}
