import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Queues } from '../../src/queue/queues.js';
import { HandoffStore, type HandoffRecord } from '../../src/store/handoffs.js';
import { keys } from '../../src/store/keys.js';
import { LeadState, type LeadRef, type Profile, type RoutingDecision } from '../../src/domain/index.js';
import { LeadStore } from '../../src/store/leads.js';
import { TimelineStore } from '../../src/store/timeline.js';
import { testScore } from './score.js';
import { waitFor } from './wait.js';

/**
 * Who the handed-off leads are (500 to 502). 501 carries markup in CRM-sourced text, which the
 * dashboard must show as text.
 */
export const FIXTURE_PEOPLE: Profile[] = [
  {
    firstName: 'Grace',
    lastName: 'Kim',
    email: 'grace@initech.example',
    company: 'Initech',
    jobTitle: 'VP Marketing',
  },
  {
    firstName: 'Bobby <b>Tables</b>',
    lastName: 'Drop',
    email: 'bobby@evil.example',
    company: '<img src=x onerror="document.body.dataset.xss=1">Evil Corp',
  },
  { email: 'ops@globex.example' },
];

/**
 * Seeds what the dashboard reads: handoffs in the audit log (minutes before `now`), the leads'
 * profiles and scores, Ana's first action on 500, Ben's lapsed SLA on 501, and one dead letter.
 */
export async function seedAdminData(
  redis: Redis,
  queues: Queues,
  prefix: string,
  now = Date.now(),
): Promise<void> {
  const k = keys(prefix);
  const audit = new HandoffStore(redis, k);
  const leads = new LeadStore(redis, k);
  const timeline = new TimelineStore(redis, k, { dedupeMs: 3_600_000, leadMs: 86_400_000 });
  for (const [i, total] of [92, 67, 55, 41, 12].entries()) {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: String(500 + i) };
    const handoffId = `hf.hubspot.contact.${lead.id}.0.mql`;
    await leads.put(
      lead,
      LeadState.parse({
        stage: total >= 50 ? 'mql' : 'lead',
        score: testScore(total, now),
        ...(total >= 50 ? { handoffId } : {}),
      }),
    );
    if (total < 50) continue;
    await timeline.mergeFetchedProfile(lead, FIXTURE_PEOPLE[i]!, now);
    await timeline.recordEvent(
      {
        id: `web:${lead.id}`,
        lead,
        type: i === 0 ? 'demo_request' : 'page_view',
        occurredAt: now - 5 * 60_000,
        source: 'webhook',
        properties: {},
      },
      now - 5 * 60_000,
    );
    await audit.save(handoffRecord(handoffId, lead, total, i, now));
    await audit.audit({
      type: 'handoff',
      handoffId,
      lead: `hubspot.contact.${lead.id}`,
      detail: {
        stage: 'mql',
        trigger: i === 0 ? 'hand_raise' : 'threshold',
        score: total,
        ownerId: ['101', '102', null][i],
        breakdown: [
          { reason: 'Job title "VP Marketing" matches title-decision-maker (+20)' },
          { reason: '3× page_view (url contains "/pricing") in the last 2 days: +24 (capped at 24)' },
        ],
      },
      at: now - (4 - i) * 60_000,
    });
    await audit.audit({
      type: 'writeback',
      handoffId,
      detail: { speedToLeadMs: [420, 2_300, 45_000][i] },
      at: now,
    });
  }
  await audit.mark('hf.hubspot.contact.500.0.mql', 'actedAt', String(now - 30_000));
  await audit.mark('hf.hubspot.contact.500.0.mql', 'actedWhat', 'call logged');
  await audit.mark('hf.hubspot.contact.501.0.mql', 'breach.0', String(now - 10_000));
  await audit.audit({
    type: 'rep_action',
    handoffId: 'hf.hubspot.contact.500.0.mql',
    lead: 'hubspot.contact.500',
    detail: { ownerId: '101', what: 'call logged', afterMs: 90_000 },
    at: now - 30_000,
  });
  await audit.audit({
    type: 'sla_breach',
    handoffId: 'hf.hubspot.contact.501.0.mql',
    lead: 'hubspot.contact.501',
    detail: { ownerId: '102', action: 'notify', dueAt: now - 10_000, round: 0 },
    at: now - 10_000,
  });
  await failWritebacks(
    redis,
    queues,
    prefix,
    ['hf.broken'],
    'hubspot 400 VALIDATION_ERROR: Property "leadflow_score" does not exist',
  );
}

/** A handoff as the score job saves it: 500 by round robin past Ben (at capacity), 501 to Ben, 502 to nobody. */
function handoffRecord(id: string, lead: LeadRef, total: number, i: number, now: number): HandoffRecord {
  const decidedAt = now - (4 - i) * 60_000;
  const ownerId = ['101', '102', null][i] ?? null;
  const routing: RoutingDecision = {
    ownerId,
    ruleId: ownerId ? 'north-america' : null,
    strategy: ownerId ? 'round_robin' : 'none',
    reason: ownerId ? 'round robin in north-america' : 'no rule yielded a rep',
    skipped: i === 0 ? [{ repId: '102', ruleId: 'north-america', why: 'at_capacity' }] : [],
  };
  return {
    handoff: {
      id,
      lead,
      stage: 'mql',
      trigger: i === 0 ? 'hand_raise' : 'threshold',
      triggerEventId: `web:${lead.id}`,
      receivedAt: decidedAt - 1_000,
      decidedAt,
      score: testScore(total, decidedAt),
    },
    note: { subject: 'x', text: 'x', html: 'x' },
    routing,
    task: {
      subject: 'Call',
      body: 'x',
      dueAt: decidedAt + 15 * 60_000,
      ownerId,
      priority: 'HIGH',
      type: 'CALL',
    },
  };
}

/**
 * Puts handoff writebacks in the failed set (our dead-letter list) the way a CRM 4xx does: a worker
 * fails them with UnrecoverableError. Waits until `expectFailed` jobs are failed in all.
 */
export async function failWritebacks(
  redis: Redis,
  queues: Queues,
  prefix: string,
  handoffIds: string[],
  reason: string,
  expectFailed = handoffIds.length,
): Promise<void> {
  for (const id of handoffIds)
    await queues.writeback.add('handoff', { kind: 'handoff', handoffId: id }, { jobId: id, attempts: 1 });
  const worker = new Worker('writeback', () => Promise.reject(new UnrecoverableError(reason)), {
    connection: redis.duplicate(),
    prefix,
  });
  await waitFor(async () => (await queues.writeback.getFailedCount()) === expectFailed, {
    what: 'dead letters',
  });
  await worker.close();
}
