import type { Redis } from 'ioredis';
import type { Handoff } from '../domain/index.js';
import type { HandoffNote } from '../handoff/note.js';
import type { Keys } from './keys.js';

/** A handoff with the note composed when it was decided, so every retry writes the same text. */
export interface HandoffRecord {
  handoff: Handoff;
  note: HandoffNote;
}

/** Steps of a handoff writeback; each is recorded once done so a retry skips it. */
export type WritebackStep = 'scores' | 'stage' | 'note' | 'completedAt';

export interface AuditEntry {
  type: 'handoff' | 'writeback' | 'dead_letter';
  handoffId?: string;
  lead?: string;
  detail: Record<string, unknown>;
  at: number;
}

const AUDIT_MAX_LEN = 100_000;

export class HandoffStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async save(record: HandoffRecord): Promise<void> {
    await this.redis.set(this.k.handoff(record.handoff.id), JSON.stringify(record));
  }

  async get(id: string): Promise<HandoffRecord | null> {
    const raw = await this.redis.get(this.k.handoff(id));
    return raw ? (JSON.parse(raw) as HandoffRecord) : null;
  }

  /** Step → result (`started` while a CRM call may be in flight, otherwise the CRM id or `done`). */
  async progress(id: string): Promise<Partial<Record<WritebackStep, string>>> {
    return this.redis.hgetall(this.k.progress(id));
  }

  async mark(id: string, step: WritebackStep, value: string): Promise<void> {
    await this.redis.hset(this.k.progress(id), step, value);
  }

  async audit(entry: AuditEntry): Promise<void> {
    await this.redis.xadd(this.k.audit, 'MAXLEN', '~', AUDIT_MAX_LEN, '*', 'entry', JSON.stringify(entry));
  }

  async recentAudit(count: number): Promise<AuditEntry[]> {
    const rows = await this.redis.xrevrange(this.k.audit, '+', '-', 'COUNT', count);
    return rows.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as AuditEntry);
  }
}
