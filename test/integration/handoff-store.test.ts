import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandoffStore, type AuditEntry, type HandoffRecord } from '../../src/store/handoffs.js';
import { keys } from '../../src/store/keys.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

/** A completed record as the JSON encoding wrote it (a bench hand-raise: note text kept, html dropped). */
const V0_JSON = JSON.stringify(
  JSON.parse(readFileSync(new URL('../fixtures/handoff-record-v0.json', import.meta.url), 'utf8')),
);
const V0 = JSON.parse(V0_JSON) as HandoffRecord;
const ALERT = {
  subject: V0.task!.subject,
  lines: ['Their time: unknown (no single time zone known for Canada)'],
};

describe('handoff records in Redis', () => {
  const redis = testRedis();
  const prefix = uniquePrefix('handoff-store');
  const k = keys(prefix);
  const store = new HandoffStore(redis, k);
  const withNote: HandoffRecord = { ...V0, note: { ...V0.note, html: '<p>the note</p>' }, alert: ALERT };

  beforeAll(async () => {
    await redis.ping();
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('reads a record the JSON encoding wrote', async () => {
    await redis.set(k.handoff('old'), V0_JSON);
    expect(await store.get('old')).toEqual(V0);
  });

  it('gives back a saved record as it was decided, event ids aside', async () => {
    const id = 'saved';
    const eventIds = withNote.handoff.score.breakdown.map(() => ['hubspot:1']);
    const score = {
      ...withNote.handoff.score,
      breakdown: withNote.handoff.score.breakdown.map((l, i) => ({ ...l, eventIds: eventIds[i]! })),
    };
    await store.save({ ...withNote, handoff: { ...withNote.handoff, id, score } });
    expect(await store.get(id)).toEqual({ ...withNote, handoff: { ...withNote.handoff, id } });
  });

  it('keeps, once completed, what follow-ups, the lead page and explain read, in under 450 bytes', async () => {
    for (const [id, alertPending] of [
      ['done', false],
      ['alerting', true],
    ] as const) {
      const record = { ...withNote, handoff: { ...withNote.handoff, id } };
      await store.save(record);
      await store.complete(record, 1_793_620_900_000, alertPending);
      const kept = (await store.get(id))!;
      // SLA rounds, escalation, reassignment and breach messages; the lead page's routing and clock.
      expect(kept.task).toEqual(V0.task);
      expect(kept.routing).toEqual(V0.routing);
      expect(kept.note.subject).toBe(V0.note.subject);
      expect(kept.handoff).toEqual({ ...V0.handoff, id, score: { ...V0.handoff.score, breakdown: [] } });
      expect(kept.alert).toEqual(alertPending ? ALERT : undefined);
      expect((await store.progress(id)).completedAt).toBe('1793620900000');
    }
    // The JSON encoding held 4,200 bytes for this record once completed.
    expect(await redis.memory('USAGE', k.handoff('done'), 'SAMPLES', '0')).toBeLessThan(450);
  });

  it('reads audit entries the JSON encoding wrote, and packs new ones to under a third of their JSON', async () => {
    const old: AuditEntry = {
      type: 'writeback',
      handoffId: V0.handoff.id,
      lead: 'hubspot.contact.100000',
      detail: { speedToLeadMs: 1_200, ownerId: '101' },
      at: V0.handoff.decidedAt,
    };
    await redis.xadd(k.audit, '*', 'entry', JSON.stringify(old));
    // The decision as it was audited with the whole breakdown: the store keeps what it is given.
    const decided: AuditEntry = {
      type: 'handoff',
      handoffId: V0.handoff.id,
      lead: 'hubspot.contact.100000',
      detail: { stage: 'sql', score: 82, breakdown: V0.handoff.score.breakdown, routing: V0.routing!.reason },
      at: V0.handoff.decidedAt,
    };
    // Not named by its handoff id: kept.
    const other: AuditEntry = {
      type: 'disposition',
      handoffId: 'x',
      lead: 'hubspot.contact.7',
      detail: {},
      at: 1,
    };
    for (const entry of [decided, other]) await store.audit(entry);
    expect(await store.auditSince(0)).toEqual([old, decided, other]);
    const [, fields] = (await redis.xrangeBuffer(k.audit, '-', '+')).at(1)!;
    expect(fields[1]!.length).toBeLessThan(JSON.stringify(decided).length / 3);
  });
});
