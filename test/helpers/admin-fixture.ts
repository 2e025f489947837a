import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Queues } from '../../src/queue/queues.js';
import { HandoffStore } from '../../src/store/handoffs.js';
import { keys } from '../../src/store/keys.js';
import { LeadState } from '../../src/domain/index.js';
import { LeadStore } from '../../src/store/leads.js';
import { testScore } from './score.js';
import { waitFor } from './wait.js';

/** Seeds what the dashboard reads: handoffs in the audit log, scores, and one dead letter. */
export async function seedAdminData(redis: Redis, queues: Queues, prefix: string): Promise<void> {
  const k = keys(prefix);
  const audit = new HandoffStore(redis, k);
  const leads = new LeadStore(redis, k);
  const now = Date.now();
  for (const [i, total] of [92, 67, 55, 41, 12].entries()) {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: String(500 + i) };
    await leads.put(
      lead,
      LeadState.parse({ stage: total >= 50 ? 'mql' : 'lead', score: testScore(total, now) }),
    );
    if (total < 50) continue;
    const handoffId = `hf.hubspot.contact.${lead.id}.0.mql`;
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
  await failWritebacks(
    redis,
    queues,
    prefix,
    ['hf.broken'],
    'hubspot 400 VALIDATION_ERROR: Property "leadflow_score" does not exist',
  );
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
