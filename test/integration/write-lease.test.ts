import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { processScore } from '../../jobs/score.js';
import { processWriteback } from '../../jobs/writeback.js';
import { HubSpotFields } from '../../src/config/schema.js';
import { handoffMarker, type LeadRef } from '../../src/domain/index.js';
import { NotDueError } from '../../src/queue/errors.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { waitFor } from '../helpers/wait.js';

const LEAD: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '7001' };

/**
 * A worker blocked past its job lock loses the job to another process while its own run still
 * writes: two runs of one handoff in two processes, whose connectors cannot join each other's calls.
 */
describe('one handoff written by two processes at once', () => {
  let redis: Redis;
  let sandbox: Sandbox;
  const prefix = uniquePrefix('write-lease');
  const pipelines: Pipeline[] = [];

  beforeAll(async () => {
    redis = testRedis();
    sandbox = await startSandbox();
  });
  afterEach(async () => {
    for (const p of pipelines.splice(0)) await p.close();
    await cleanPrefix(redis, prefix);
  });
  afterAll(async () => {
    await sandbox.close();
    await redis.quit();
  });

  /** One worker process: its own connector and job context on the shared Redis. */
  const process = async () => {
    const connector = createHubSpotConnector({
      accessToken: 'lease',
      basePath: sandbox.url,
      fields: HubSpotFields.parse({}),
      batching: true,
    });
    await connector.ensureSchema();
    const p = await startPipeline({ redis, config: testConfig(prefix), connector, workers: false });
    pipelines.push(p);
    return { ctx: p.ctx, connector };
  };

  it('the second run waits for the first, without an attempt: one note, one task', async () => {
    sandbox.seedContacts([{ id: LEAD.id, properties: { email: 'lease@x.io', lifecyclestage: 'lead' } }]);
    const [a, b] = [await process(), await process()];
    const now = Date.now();
    await a.ctx.timeline.recordEvent(
      {
        id: 'lease:demo',
        lead: LEAD,
        type: 'demo_request',
        occurredAt: now,
        source: 'hubspot',
        properties: {},
      },
      now,
    );
    const { handoffId } = await processScore(a.ctx, { lead: LEAD });
    expect(handoffId).not.toBeNull();
    const job = { kind: 'handoff' as const, handoffId: handoffId! };

    // The first run's worker is blocked (a long GC, a starved CPU) after marking the note started and
    // before its create reaches the CRM: long enough for BullMQ to give the job to the other process.
    let unblock = () => {};
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    const write = a.connector.writeHandoff!.bind(a.connector);
    (a.connector as { writeHandoff: typeof write }).writeHandoff = async (w) => {
      await blocked;
      return write(w);
    };
    const first = processWriteback(a.ctx, job);
    await waitFor(async () => (await a.ctx.handoffs.progress(handoffId!)).note === 'started', {
      what: 'the first run under way',
    });
    const second = await processWriteback(b.ctx, job).catch((err: unknown) => err);
    unblock();
    await first;
    // Run again after its wait: the handoff is written, nothing more to do.
    if (second instanceof NotDueError) expect(await processWriteback(b.ctx, job)).toEqual({ written: [] });

    const marked = (list: { properties: Record<string, string> }[], body: string) =>
      list.filter((o) => (o.properties[body] ?? '').includes(handoffMarker(handoffId!)));
    expect(marked(sandbox.hubspot.notes, 'hs_note_body')).toHaveLength(1);
    expect(marked(sandbox.hubspot.tasks, 'hs_task_body')).toHaveLength(1);
    // It waited for as long as the first run's lease had left, no attempt spent (NotDueError).
    expect(second).toBeInstanceOf(NotDueError);
    expect((second as NotDueError).waitMs).toBeGreaterThan(0);
    // The lease is gone with the run that held it.
    expect(await redis.exists(`${prefix}:write-lease:${handoffId!}`)).toBe(0);
  });
});
