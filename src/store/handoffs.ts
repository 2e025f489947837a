import type { RedisClient } from './redis.js';
import {
  leadOfHandoff,
  type Handoff,
  type HandoffNote,
  type RepTask,
  type RoutingDecision,
} from '../domain/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';
import { decodeRecord, encodeRecord } from './handoff-codec.js';
import { packJson, unpackJson } from './packed.js';

/**
 * A handoff with its owner, note and task decided once, so every retry writes the same thing.
 * `routing` and `task` are absent on records written before routing existed. Once the writeback
 * completed, the note keeps only its subject, the score its totals, and the alert is gone once it
 * cannot be sent any more (see `complete`).
 */
export interface HandoffRecord {
  handoff: Handoff;
  note: HandoffNote;
  routing?: RoutingDecision;
  task?: RepTask;
  /** The rep alert's text (the task's headline and brief), composed with the note; the link is added at send time. */
  alert?: { subject: string; lines: string[] };
  /** What the hand-raise guardrails did to this handoff, when they changed anything. */
  guardrail?: { action: 'urgent' | 'standard' | 'hold'; reasons: string[] };
}

/** Steps of a handoff writeback; each is recorded once done so a retry skips it. */
export type WritebackStep = 'scores' | 'stage' | 'note' | 'task' | 'completedAt';

/**
 * What the progress hash holds besides the writeback steps: whether the decision is in the audit log
 * (`audited`), the owner actually written (`ownerId`, changed by reassignments), the first rep
 * action (`actedAt`, `actedWhat`), a conversion (`convertedAt`), and per SLA round its breach mark,
 * notification, new owner and escalation task (`breach.N`, `notified.N`, `reassigned.N`,
 * `escalation.N`), the due time of each round after the first (`due.N`; round 0 is the task's), and
 * per rep alert channel whether it went out (`alert.slack`, `alert.email`: `sending`, `sent:<at>`,
 * `failed:<why>`, `uncertain`).
 */
export type ProgressField =
  | WritebackStep
  | 'ownerId'
  | 'actedAt'
  | 'actedWhat'
  | 'convertedAt'
  | 'audited'
  | `breach.${number}`
  | `notified.${number}`
  | `reassigned.${number}`
  | `escalation.${number}`
  | `due.${number}`
  | `alert.${string}`;

export type AuditType =
  | 'handoff'
  | 'writeback'
  | 'dead_letter'
  | 'owner_invalid'
  | 'rep_action'
  | 'sla_breach'
  | 'reassign'
  | 'disposition'
  | 'converted'
  /** The record was at or past the handoff stage in the CRM: sales has it, so it is no handoff. */
  | 'stage_moved_on'
  /** A hand-raise the guardrails did not hand off (a competitor …), with why. */
  | 'hand_raise_held'
  /** A rep alert (Slack, email) sent, or given up on, with why. */
  | 'rep_alert';

export interface AuditEntry {
  type: AuditType;
  handoffId?: string;
  lead?: string;
  detail: Record<string, unknown>;
  at: number;
}

/** An audit entry with when the stream took it (its id's time). */
export interface AuditRow {
  ms: number;
  entry: AuditEntry;
}

export class HandoffStore {
  /**
   * `ttlMs`: a handoff's record and progress expire this long after their last write (0: never,
   * for read-only tools and tests).
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly k: Keys,
    private readonly ttlMs = 0,
  ) {
    this.scripted = withScripts(redis);
  }

  private readonly scripted: Scripted;

  /**
   * Stored without the score breakdown's event ids (nothing reads them back, and they are most of
   * its size), deflated against a dictionary of what every record shares (see handoff-codec).
   */
  async save(record: HandoffRecord): Promise<void> {
    const { score } = record.handoff;
    const breakdown = score.breakdown.map((line) => ({ ...line, eventIds: [] }));
    await this.write({ ...record, handoff: { ...record.handoff, score: { ...score, breakdown } } });
  }

  /**
   * Marks the handoff written and keeps only what is read after that: SLA rounds, reassignments,
   * dispositions, the rep alert (when `alertPending`), the lead page and `explain`. The CRM holds the
   * note, so the record keeps its subject (for SLA messages) and drops its text and html; the lead
   * state holds the current score's breakdown, so the record keeps the totals that decided.
   */
  async complete(record: HandoffRecord, completedAt: number, alertPending = false): Promise<void> {
    await this.mark(record.handoff.id, 'completedAt', String(completedAt));
    const { alert, ...kept } = record;
    const { score } = record.handoff;
    await this.write({
      ...kept,
      handoff: { ...record.handoff, score: { ...score, breakdown: [] } },
      note: { subject: record.note.subject, text: '', html: '' },
      ...(alertPending && alert ? { alert } : {}),
    });
  }

  private async write(record: HandoffRecord): Promise<void> {
    const key = this.k.handoff(record.handoff.id);
    if (this.ttlMs > 0) await this.redis.set(key, encodeRecord(record), 'PX', this.ttlMs);
    else await this.redis.set(key, encodeRecord(record));
  }

  async get(id: string): Promise<HandoffRecord | null> {
    const raw = await this.redis.getBuffer(this.k.handoff(id));
    return raw ? decodeRecord(raw) : null;
  }

  /** Step → result (`started` while a CRM call may be in flight, otherwise the CRM id or `done`). */
  async progress(id: string): Promise<Partial<Record<ProgressField, string>>> {
    return this.redis.hgetall(this.k.progress(id));
  }

  async mark(id: string, field: ProgressField, value: string): Promise<void> {
    await this.scripted.leadflowMarkProgress(this.k.progress(id), field, value, '0', this.ttlMs);
  }

  async unmark(id: string, field: ProgressField): Promise<void> {
    await this.redis.hdel(this.k.progress(id), field);
  }

  /** Sets a field only if unset; true when this call set it (first rep action, a breach counted once). */
  async markOnce(id: string, field: ProgressField, value: string): Promise<boolean> {
    return (
      (await this.scripted.leadflowMarkProgress(this.k.progress(id), field, value, '1', this.ttlMs)) === 1
    );
  }

  /** Every audit entry from `from` (inclusive, by stream id), oldest first, for reports. */
  async auditSince(from: number): Promise<AuditEntry[]> {
    return (await this.auditRowsSince(from)).map((row) => row.entry);
  }

  /** The same with each entry's stream id time (Redis' clock when it was added). */
  async auditRowsSince(from: number): Promise<AuditRow[]> {
    return readRows(await this.redis.xrangeBuffer(this.k.audit, String(from), '+'));
  }

  /** When the oldest entry still in the stream was added (its stream id), or null when it is empty. */
  async oldestAuditAt(): Promise<number | null> {
    const [row] = await this.redis.xrangeBuffer(this.k.audit, '-', '+', 'COUNT', 1);
    return row ? streamIdMs(row[0]) : null;
  }

  /**
   * Packed (see packed.ts), without the lead when the handoff id names it: the audit stream holds an
   * entry or two for every handoff, so its bytes count per lead.
   */
  async audit(entry: AuditEntry): Promise<void> {
    const { lead, ...rest } = entry;
    const named = entry.handoffId !== undefined && leadOfHandoff(entry.handoffId) === lead;
    const packed = packJson(named ? rest : entry, AUDIT_DICTIONARY);
    // Not capped by length: the audit sweep (src/reports/rollup.ts) trims whole days by age.
    await this.redis.xadd(this.k.audit, '*', PACKED_FIELD, packed);
  }

  async recentAudit(count: number): Promise<AuditEntry[]> {
    return readRows(await this.redis.xrevrangeBuffer(this.k.audit, '+', '-', 'COUNT', count)).map(
      (row) => row.entry,
    );
  }
}

/** The stream field of a packed entry; entries written before packing are JSON in `entry`. */
const PACKED_FIELD = 'z';

/** Field names and phrases of audit entries, the most frequent last (see packed.ts). */
const AUDIT_DICTIONARY = Buffer.from(
  [
    '{"type":"rep_alert","handoffId":"hf.hubspot.contact.',
    '","detail":{"channel":"slack","outcome":"sent"',
    '{"type":"sla_breach","handoffId":"hf.hubspot.contact.',
    '","detail":{"ownerId":"","action":"notify","dueAt":',
    ',"round":0},"at":',
    '{"type":"rep_action","handoffId":"hf.hubspot.contact.',
    '","detail":{"ownerId":"","what":"","afterMs":',
    '{"type":"disposition","handoffId":"hf.hubspot.contact.',
    '","detail":{"status":"","reason":"","score":',
    '"action":"recycle"',
    '"action":"disqualify"',
    '{"type":"converted","handoffId":"hf.hubspot.contact.',
    '"guardrail":{"action":"standard","reasons":["',
    '"skipped":[{"repId":"","ruleId":"","why":"out_of_office"},{"why":"at_capacity"},{"why":"inactive"}]',
    '"routing":"account owner ',
    '"routing":"fallback owner',
    '"routing":"round robin \\"',
    '\\" (weight ',
    '\'s turn"',
    '"receivedAt":',
    ',"ownerId":"',
    '","ruleId":"',
    ' in the last ',
    ' days: +',
    ' matches ',
    'Job title \\"',
    'Company size \\"',
    'Industry \\"',
    'Country \\"',
    '× page_view',
    '× email_open',
    '× demo_request',
    '× form_submission',
    '"},{"ruleId":"',
    '","points":',
    ',"reason":"',
    '{"type":"handoff","handoffId":"hf.salesforce.lead.',
    '{"type":"handoff","handoffId":"hf.hubspot.contact.',
    '","detail":{"stage":"sql","trigger":"hand_raise","score":',
    '","detail":{"stage":"mql","trigger":"threshold","score":',
    ',"breakdown":[{"ruleId":"',
    '{"type":"writeback","handoffId":"hf.hubspot.contact.',
    '","detail":{"speedToLeadMs":',
    '},"at":',
  ].join(''),
);

const streamIdMs = (id: Buffer) => Number(id.toString().split('-')[0]);

/** Stream rows as entries: packed ones unpacked, the lead put back from the handoff id. */
function readRows(rows: [Buffer, Buffer[]][]): AuditRow[] {
  return rows.map(([id, fields]) => ({ ms: streamIdMs(id), entry: readEntry(fields) }));
}

function readEntry(fields: Buffer[]): AuditEntry {
  const packed = fields[0]?.toString() === PACKED_FIELD;
  const raw = fields[1] ?? Buffer.from('{}');
  const entry = (packed ? unpackJson(raw, AUDIT_DICTIONARY) : JSON.parse(raw.toString())) as AuditEntry;
  const lead = entry.lead ?? (entry.handoffId === undefined ? null : leadOfHandoff(entry.handoffId));
  return lead === null ? entry : { ...entry, lead };
}
