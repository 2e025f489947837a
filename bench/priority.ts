import { closeQueues, openQueues, type Queues } from '../src/queue/queues.js';
import { HandoffStore } from '../src/store/handoffs.js';
import { keys } from '../src/store/keys.js';
import type { LeadRef } from '../src/domain/index.js';
import type { System } from '../test/system/index.js';
import { demoRequest, propertyChange } from '../test/system/webhooks.js';
import {
  LATENCY_MS,
  benchSystem,
  contact,
  percentile,
  profilesFetched,
  sleep,
  speedToLeadOf,
  until,
  type Outcome,
} from './common.js';

/**
 * A demo request sent while 20,000 score-only events are queued (200 signed deliveries of 100 page
 * views over 5,000 known leads whose score stays under MQL), against the same request on an idle
 * system: webhook receipt → every CRM write acknowledged, median of RUNS each. The backlog still
 * queued (ingest deliveries, score jobs) when the demo request is sent is reported beside it.
 * `BENCH_PRIORITY_EVENTS` shrinks the backlog for a quick try; the README figure is at 20,000.
 */
const BACKLOG_EVENTS = Number(process.env.BENCH_PRIORITY_EVENTS ?? 20_000);
const PER_DELIVERY = 100;
const BACKLOG_LEADS = 5_000;
const RUNS = 5;
const POSTERS = 8;
const TARGET_MS = 1_000;

/** A known lead that fits moderately: 35 fit points and at most 10 from page views, never an MQL. */
function backlogLead(i: number) {
  const c = contact(i);
  return { ...c, properties: { ...c.properties, jobtitle: 'Marketing Manager' } };
}

/** Jobs not yet finished in the stages a hand-raise goes through. */
async function pending(queues: Queues): Promise<{ ingest: number; score: number; writeback: number }> {
  const open = (q: keyof Queues) =>
    queues[q].getJobCountByTypes('waiting', 'prioritized', 'delayed', 'active');
  const [ingest, score, writeback] = await Promise.all([open('ingest'), open('score'), open('writeback')]);
  return { ingest, score, writeback };
}

/** Signed deliveries, POSTERS at a time; each must be accepted. */
async function deliver(sys: System, deliveries: object[][]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: POSTERS }, async () => {
      while (next < deliveries.length) {
        const status = await sys.post.hubspot(deliveries[next++]!);
        if (status !== 200) throw new Error(`bench priority: webhook answered ${status}`);
      }
    }),
  );
}

export async function priorityUnderBacklog(redisUrl: string): Promise<Outcome> {
  const leads = Array.from({ length: BACKLOG_LEADS }, (_, i) => backlogLead(i));
  // Fresh demo requesters, one per run and mode, known (warmed up) like most demo requesters.
  const targets = Array.from({ length: 2 * RUNS }, (_, i) => contact(BACKLOG_LEADS + i));
  const sys = await benchSystem(redisUrl, {
    prefix: '{leadflow-bench-priority}',
    sandbox: { latencyMs: LATENCY_MS },
    seed: (sandbox) => sandbox.seedContacts([...leads, ...targets]),
  });
  const queues = openQueues(sys.redis, sys.prefix, () => undefined);
  const store = new HandoffStore(sys.redis, keys(sys.prefix));
  const idle = async () => Object.values(await pending(queues)).every((n) => n === 0);
  const pageViews = (count: number, tag: string) =>
    Array.from({ length: Math.ceil(count / PER_DELIVERY) }, (_, d) =>
      Array.from({ length: Math.min(PER_DELIVERY, count - d * PER_DELIVERY) }, (_, i) => {
        const n = d * PER_DELIVERY + i;
        return propertyChange(
          leads[n % BACKLOG_LEADS]!.id,
          'hs_analytics_last_url',
          `https://x.io/${tag}/${n}`,
        );
      }),
    );

  /** One demo request: its speed to lead, and the backlog still queued when it was sent. */
  async function timeDemoRequest(leadId: string) {
    const backlog = await pending(queues);
    await deliver(sys, [[demoRequest(leadId)]]);
    const ms = await speedToLeadOf(store, `hf.hubspot.contact.${leadId}.0.mql`, 120_000);
    return { ms, backlog };
  }

  try {
    // Warm-up: every lead seen once, so its profile is cached and the backlog is scoring work.
    await deliver(sys, [
      ...pageViews(BACKLOG_LEADS, 'warm'),
      ...Array.from({ length: Math.ceil(targets.length / PER_DELIVERY) }, (_, d) =>
        targets
          .slice(d * PER_DELIVERY, (d + 1) * PER_DELIVERY)
          .map((t) => propertyChange(t.id, 'hs_analytics_last_url', 'https://x.io/blog')),
      ),
    ]);
    const refs = [...leads, ...targets].map((l): LeadRef => ({
      crm: 'hubspot',
      objectType: 'contact',
      id: l.id,
    }));
    await until(profilesFetched(sys, refs), 300_000, 'profiles cached');
    await until(idle, 300_000, 'warm-up drained');

    const idleRuns: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      idleRuns.push((await timeDemoRequest(targets[r]!.id)).ms);
      await until(idle, 60_000, 'idle');
      await sleep(500);
    }
    const backlogRuns: { ms: number; backlog: { ingest: number; score: number; writeback: number } }[] = [];
    for (let r = 0; r < RUNS; r++) {
      await deliver(sys, pageViews(BACKLOG_EVENTS, `run${r}`));
      backlogRuns.push(await timeDemoRequest(targets[RUNS + r]!.id));
      await until(idle, 600_000, 'backlog drained');
      await sleep(500);
    }

    const median = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        0.5,
      );
    const idleMs = median(idleRuns);
    const backlogMs = median(backlogRuns.map((b) => b.ms));
    const queued = backlogRuns.map((b) => b.backlog);
    const range = (xs: number[]) => `${Math.min(...xs)}–${Math.max(...xs)}`;
    return {
      results: {
        priority: {
          sandboxLatencyMs: LATENCY_MS,
          backlogEvents: BACKLOG_EVENTS,
          backlogLeads: BACKLOG_LEADS,
          runs: RUNS,
          idleMs: idleRuns,
          backlogMs: backlogRuns.map((b) => b.ms),
          queuedAtSend: queued,
          medianIdleMs: idleMs,
          medianBacklogMs: backlogMs,
          targetMs: TARGET_MS,
        },
      },
      rows: [
        [
          `demo request during a ${BACKLOG_EVENTS.toLocaleString('en-US')}-event backlog, speed to lead (ms)`,
          String(Math.round(backlogMs)),
          `median of ${RUNS}; idle ${Math.round(idleMs)}; queued at send: ` +
            `${range(queued.map((q) => q.ingest))} deliveries, ${range(queued.map((q) => q.score))} score jobs; ` +
            `target ≤ ${TARGET_MS}`,
        ],
      ],
    };
  } finally {
    await closeQueues(queues);
    await sys.close();
  }
}
