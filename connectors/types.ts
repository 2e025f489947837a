import type { Crm, LeadRef, Profile, Score } from '../src/domain/index.js';
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

export interface NoteResult {
  id: string;
  /** false when an earlier attempt had already created it. */
  created: boolean;
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
  /** Writes score fields for many leads; returns the leads whose records failed. */
  writeScores(writes: ScoreWrite[]): Promise<RecordFailure[]>;
  /**
   * Moves the lifecycle stage forward to MQL or SQL; never moves it backward. `knownStage` is our
   * copy of the CRM's current value: with it the connector can skip reading the record first.
   * Returns the CRM's stage afterwards.
   */
  advanceStage(lead: LeadRef, stage: 'mql' | 'sql', knownStage?: string): Promise<string>;
  /**
   * Creates the handoff note once per handoff id. The body carries the handoff id; when
   * `mayExist` (an earlier attempt may have reached the CRM) the connector first looks for
   * a note with that id on the lead and returns it instead of creating a second one.
   */
  createHandoffNote(lead: LeadRef, handoffId: string, body: string, mayExist: boolean): Promise<NoteResult>;
}
