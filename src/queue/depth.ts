import type { JobType, Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { QueueName } from './catalog.js';
import type { Queues } from './queues.js';

/** The states a backlog shows in; `failed` is the dead-letter list (see dead-letters.ts). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * A queue's jobs per state, with both lanes of waiting work as `waiting`: urgent jobs in BullMQ's
 * wait list, routine ones in its prioritized set (see ROUTINE in catalog.ts).
 */
export async function countJobs<S extends JobType>(
  queue: Queue,
  states: readonly S[],
): Promise<Record<S, number>> {
  const counts = await queue.getJobCounts(...states, 'prioritized');
  const count = (state: S) => (counts[state] ?? 0) + (state === 'waiting' ? (counts.prioritized ?? 0) : 0);
  return Object.fromEntries(states.map((state) => [state, count(state)])) as Record<S, number>;
}

/**
 * `leadflow_queue_jobs{queue,state}` (waiting: both lanes), counted in Redis on each scrape, so every process serving
 * /metrics reports the same shared queues. When Redis does not answer the series are left out for
 * that scrape instead of failing the whole endpoint (its own gauges report the outage).
 */
export function registerQueueDepth(registry: Registry, queues: Queues, onError: (err: Error) => void): void {
  new Gauge({
    name: 'leadflow_queue_jobs',
    help: 'Jobs per queue and state (failed: dead letters), counted in Redis on each scrape',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const counts = await Promise.all(
          QueueName.options.map(
            async (queue) => [queue, await countJobs(queues[queue], QUEUE_STATES)] as const,
          ),
        );
        for (const [queue, byState] of counts)
          for (const state of QUEUE_STATES) this.set({ queue, state }, byState[state] ?? 0);
      } catch (err) {
        onError(err as Error);
      }
    },
  });
}
