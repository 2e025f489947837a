import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HubSpotWebhookEvent } from '../../connectors/hubspot/webhook.js';
import { processFollowup } from '../../jobs/followup.js';
import type { Config } from '../../src/config/schema.js';
import { enqueueIngest } from '../../src/queue/queues.js';
import { hubspotIngest } from '../../src/receive/hubspot.js';
import { StaleLeadStateError } from '../../src/store/leads.js';
import { RoutingStore } from '../../src/store/routing.js';
import { retentionTtls } from '../../src/config/retention.js';
import { redisTime } from '../../src/store/redis.js';
import { keys } from '../../src/store/keys.js';
import { NotDueError } from '../../src/queue/errors.js';
import { FakeConnector } from '../helpers/fake-connector.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const LEAD = { crm: 'hubspot', objectType: 'contact', id: '601' } as const;
const KEY = 'hubspot.contact.601';
const HANDOFF = 'hf.hubspot.contact.601.0.mql';
const US_VP = { email: 'ada@acme.io', jobTitle: 'VP Sales', country: 'United States' };

let seq = 0;
function change(propertyName: string, propertyValue: string, occurredAt = Date.now()): HubSpotWebhookEvent {
  return {
    eventId: String(++seq),
    portalId: '33',
    objectId: LEAD.id,
    occurredAt,
    subscriptionType: 'contact.propertyChange',
    propertyName,
    propertyValue,
  };
}
const demoRequest = () => change('recent_conversion_event_name', 'Demo request');

describe('after the handoff: routing, rep task, SLA and dispositions (real Redis, fake CRM)', () => {
  let redis: Redis;
  let prefix: string;
  let crm: FakeConnector;
  let pipeline: Pipeline;
  /** The clock the jobs see; the SLA checks are run by hand at chosen times. */
  let clock: number | undefined;

  async function start(adjust: (c: Config) => Config = (c) => c) {
    pipeline = await startPipeline({
      redis,
      config: testConfig(prefix, adjust),
      connector: crm,
      now: () => clock ?? Date.now(),
      // The SLA clock is Redis' in production; here it follows the chosen time as well.
      sharedNow: async () => clock ?? redisTime(redis, keys(prefix).clock),
    });
  }
  const ingest = (events: HubSpotWebhookEvent[]) =>
    enqueueIngest(
      pipeline.queues,
      hubspotIngest(events, pipeline.ctx.config.hubspot, { receivedAt: Date.now() }),
      pipeline.ctx.config.handRaise,
    );
  const progress = () => pipeline.ctx.handoffs.progress(HANDOFF);
  const audit = async (type: string) =>
    (await pipeline.ctx.handoffs.recentAudit(100)).filter((e) => e.type === type);
  async function handedOff() {
    await ingest([demoRequest()]);
    await waitFor(async () => (await progress()).completedAt, { what: 'handoff written' });
    return (await pipeline.ctx.handoffs.get(HANDOFF))!;
  }
  const sla = (round = 0) => processFollowup(pipeline.ctx, { kind: 'sla', handoffId: HANDOFF, round });

  beforeEach(() => {
    redis = testRedis();
    prefix = uniquePrefix('followup');
    crm = new FakeConnector();
    crm.profiles.set(KEY, { ...US_VP });
    clock = undefined;
  });
  afterEach(async () => {
    await pipeline.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('routes the lead, writes the owner, creates one task due within the SLA, and starts the SLA clock', async () => {
    await start();
    const record = await handedOff();
    // North America round robin: Ana (weight 2) or Ben.
    expect(['101', '102']).toContain(record.routing?.ownerId);
    expect(record.routing?.ruleId).toBe('north-america');
    expect(crm.ownersOf.get(KEY)).toBe(record.routing?.ownerId);
    expect(crm.tasks).toHaveLength(1);
    expect(crm.tasks[0]).toMatchObject({ ownerId: record.routing?.ownerId, priority: 'HIGH', type: 'CALL' });
    expect(crm.tasks[0]!.dueAt).toBe(record.task?.dueAt);
    expect(crm.tasks[0]!.body).toContain(`Handoff ID: ${HANDOFF}`);
    const job = await pipeline.queues.followup.getJob(`sla.${HANDOFF}.0`);
    expect(job?.data).toEqual({ kind: 'sla', handoffId: HANDOFF, round: 0 });
    expect(await job?.getState()).toBe('delayed');
    const [decided] = await audit('handoff');
    expect(decided?.detail).toMatchObject({ ownerId: record.routing?.ownerId, ruleId: 'north-america' });
  });

  it('a lead its CRM owner already has stays with them, and so do colleagues from the same company', async () => {
    crm.profiles.set(KEY, { ...US_VP, ownerId: '104' });
    await start();
    const record = await handedOff();
    expect(record.routing).toMatchObject({
      ownerId: '104',
      ruleId: 'existing-owner',
      strategy: 'account_owner',
    });
    expect(await new RoutingStore(redis, pipeline.ctx.keys).accountOwner('acme.io')).toBe('104');
  });

  it('a score job retried after its handoff was decided routes once and audits once', async () => {
    await start();
    const put = pipeline.ctx.leads.put.bind(pipeline.ctx.leads);
    // A disposition wrote the lead between our read and our write: the job fails and runs again.
    const spy = vi
      .spyOn(pipeline.ctx.leads, 'put')
      .mockRejectedValueOnce(new StaleLeadStateError('changed'))
      .mockImplementation(put);
    await handedOff();
    await waitFor(async () => (await pipeline.ctx.leads.get(LEAD)).handoffId === HANDOFF, {
      what: 'state saved',
    });
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(await audit('handoff')).toHaveLength(1);
    // One turn taken in the pool: Ana (weight 2) moved to 0.5; a second routing would have moved Ben too.
    expect(await redis.hgetall(pipeline.ctx.keys.routingTurns('north-america'))).toEqual({ '101': '0.5' });
  });

  it('a routed owner the CRM has deactivated is reported and never written', async () => {
    const reps = ['101', '102', '103', '104'];
    crm.ownerList = crm.ownerList.map((o) => (reps.includes(o.id) ? { ...o, active: false } : o));
    await start();
    const record = await handedOff();
    expect(record.routing).toMatchObject({ ownerId: '900', strategy: 'fallback' });
    expect(crm.ownersOf.get(KEY)).toBe('900');
    const invalid = await audit('owner_invalid');
    expect(invalid.map((e) => e.detail.ownerId).sort()).toEqual(reps);
    expect(invalid.every((e) => e.detail.why === 'deactivated')).toBe(true);
  });

  it('a lead status set by the rep is their first action: recorded once, and the SLA is met', async () => {
    await start();
    await handedOff();
    await ingest([change('hs_lead_status', 'CONNECTED')]);
    await waitFor(async () => (await progress()).actedAt, { what: 'first action' });
    await ingest([change('hs_lead_status', 'IN_PROGRESS')]);
    await waitFor(
      async () => (await pipeline.ctx.timeline.profile(LEAD)).profile.leadStatus === 'IN_PROGRESS',
    );
    const actions = await audit('rep_action');
    expect(actions).toHaveLength(1);
    expect(actions[0]?.detail.what).toBe('leadStatus → CONNECTED');
    expect(await sla()).toEqual({ sla: 'met' });
    expect(await audit('sla_breach')).toHaveLength(0);
  });

  it('an action found in the CRM at the due time (task completed, call logged) meets the SLA', async () => {
    await start();
    const record = await handedOff();
    crm.activity.set(KEY, { what: 'task completed', at: Date.now() + 1 });
    clock = record.task!.dueAt + 1;
    expect(await sla()).toEqual({ sla: 'met' });
    expect((await progress()).actedWhat).toBe('task completed');
  });

  it('a finished SLA check leaves no job behind, and the handoff’s record and progress expire', async () => {
    await start();
    const record = await handedOff();
    const retention = retentionTtls(pipeline.ctx.config).leadMs;
    for (const key of [pipeline.ctx.keys.handoff(HANDOFF), pipeline.ctx.keys.progress(HANDOFF)])
      expect(await redis.pttl(key), key).toBeGreaterThan(retention - 60_000);
    // Written: the CRM has the note, the record keeps its subject for the SLA messages.
    expect(crm.notes[0]!.body).toContain('Handoff ID');
    expect(record.note).toEqual({ subject: expect.stringMatching(/^Call /) as string, text: '', html: '' });
    crm.activity.set(KEY, { what: 'task completed', at: Date.now() + 1 });
    clock = record.task!.dueAt + 1;
    const id = `sla.${HANDOFF}.0`;
    await (await pipeline.queues.followup.getJob(id))!.promote();
    await waitFor(async () => (await progress()).actedWhat, { what: 'SLA met' });
    await waitFor(async () => (await pipeline.queues.followup.getJob(id)) === undefined, {
      what: 'completed SLA job removed',
    });
  });

  it('breach → notify: counted and audited once, even when the check runs twice', async () => {
    await start((c) => ({ ...c, sla: { ...c.sla, onBreach: 'notify' } }));
    const record = await handedOff();
    clock = record.task!.dueAt + 1;
    expect(await sla()).toEqual({ sla: 'breached', action: 'notify' });
    expect(await sla()).toEqual({ sla: 'breached', action: 'notify' });
    const breaches = await audit('sla_breach');
    expect(breaches).toHaveLength(1);
    expect(breaches[0]?.detail).toMatchObject({
      ownerId: record.routing?.ownerId,
      dueAt: record.task?.dueAt,
    });
    expect(crm.tasks).toHaveLength(1);
  });

  /** An endpoint for sla.notifyUrl that refuses the first `refuse` posts and keeps the rest. */
  async function notifyHook(refuse = 0) {
    const received: Record<string, unknown>[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (refuse-- > 0) return void res.writeHead(503).end();
        received.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/sla`;
    return { received, url, close: () => hook.close() };
  }

  it('breach → a notification posted to sla.notifyUrl once, retried until it is accepted', async () => {
    const { received, url, close } = await notifyHook(1);
    try {
      await start((c) => ({ ...c, sla: { ...c.sla, onBreach: 'notify', notifyUrl: url } }));
      const record = await handedOff();
      clock = record.task!.dueAt + 1;
      await expect(sla()).rejects.toThrow('answered 503');
      expect(await sla()).toEqual({ sla: 'breached', action: 'notify' });
      expect(await sla()).toEqual({ sla: 'breached', action: 'notify' });
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ handoffId: HANDOFF, lead: KEY, action: 'notify', round: 0 });
      expect(String(received[0]!.text)).toMatch(/^SLA missed: Call /);
      expect(await audit('sla_breach')).toHaveLength(1);
    } finally {
      close();
    }
  });

  it("breach notification: the lead's name cannot ping a channel or forge a link (Slack mrkdwn escaped)", async () => {
    crm.profiles.set(KEY, { ...US_VP, firstName: '<!channel>', lastName: '<https://evil.example|Ada> & co' });
    const { received, url, close } = await notifyHook();
    try {
      await start((c) => ({ ...c, sla: { ...c.sla, onBreach: 'notify', notifyUrl: url } }));
      const record = await handedOff();
      clock = record.task!.dueAt + 1;
      expect(await sla()).toEqual({ sla: 'breached', action: 'notify' });
      const text = String(received[0]!.text);
      expect(text).toContain('SLA missed: Call &lt;!channel&gt; &lt;https://evil.example|Ada&gt; &amp; co (');
      expect(text).not.toMatch(/[<>]|&(?!amp;|lt;|gt;)/);
    } finally {
      close();
    }
  });

  it('breach → escalate: one task for the rep’s manager, not two on a retry', async () => {
    await start((c) => ({ ...c, sla: { ...c.sla, onBreach: 'escalate' } }));
    const record = await handedOff();
    clock = record.task!.dueAt + 1;
    await sla();
    await sla();
    expect(crm.tasks).toHaveLength(2);
    expect(crm.tasks[1]).toMatchObject({ ownerId: '900', key: `${HANDOFF}.escalation.0` });
    expect(crm.tasks[1]!.subject).toMatch(/^SLA missed by (Ana Ruiz|Ben Okafor): /);
  });

  it('breach → reassign: another rep gets lead and task, a new clock starts; past the limit it only notifies', async () => {
    await start((c) => ({ ...c, sla: { ...c.sla, onBreach: 'reassign', maxReassignments: 1 } }));
    const record = await handedOff();
    const first = record.routing!.ownerId!;
    clock = record.task!.dueAt + 1;
    // The CRM write fails once: the retry moves the lead to the same rep, not to a third one.
    crm.failNext('reassign', { status: 503, message: 'unavailable' });
    await expect(sla()).rejects.toThrow('unavailable');
    expect(await sla()).toEqual({ sla: 'breached', action: 'reassign' });
    const second = crm.ownersOf.get(KEY)!;
    expect((await progress())['reassigned.0']).toBe(second);
    expect(await audit('reassign')).toHaveLength(1);
    expect(['101', '102']).toContain(second);
    expect(second).not.toBe(first);
    expect(crm.tasks[0]?.ownerId).toBe(second);
    expect((await progress()).ownerId).toBe(second);
    const next = await pipeline.queues.followup.getJob(`sla.${HANDOFF}.1`);
    expect(next?.data).toEqual({ kind: 'sla', handoffId: HANDOFF, round: 1 });
    const [reassigned] = await audit('reassign');
    expect(reassigned?.detail).toMatchObject({ from: first, ownerId: second });

    // The new rep's clock: not due yet, so nothing happens until it is.
    await expect(sla(1)).rejects.toBeInstanceOf(NotDueError);
    clock = Number((await progress())['due.1']) + 1;
    expect(await sla(1)).toEqual({ sla: 'breached', action: 'notify' });
    expect(crm.ownersOf.get(KEY)).toBe(second);
  });

  it('a worker whose clock is a day fast fires no SLA action early and records a sane speed to lead', async () => {
    const DAY = 86_400_000;
    pipeline = await startPipeline({
      redis,
      config: testConfig(prefix),
      connector: crm,
      // Its own clock only: the SLA checks and speed to lead go by Redis' clock (the default).
      now: () => Date.now() + DAY,
    });
    await handedOff();
    const [written] = await audit('writeback');
    expect(written?.detail.speedToLeadMs).toBeGreaterThanOrEqual(0);
    expect(written?.detail.speedToLeadMs).toBeLessThan(60_000);

    // Promoted early (that worker's clock says it is due): it runs, sees it is not due by Redis'
    // clock, and goes back to wait without spending an attempt or acting.
    const id = `sla.${HANDOFF}.0`;
    await pipeline.queues.followup.getJob(id).then((job) => job?.promote());
    await waitFor(async () => {
      const job = await pipeline.queues.followup.getJob(id);
      return !!job?.processedOn && (await job.getState()) === 'delayed';
    });
    expect((await pipeline.queues.followup.getJob(id))?.attemptsMade).toBe(0);
    expect(await audit('sla_breach')).toHaveLength(0);
    expect(crm.calls.filter((c) => c.method === 'reassign')).toHaveLength(0);
    await expect(sla()).rejects.toBeInstanceOf(NotDueError);
    expect(await audit('sla_breach')).toHaveLength(0);
  });

  it('disposition with a mapped reason: recycle in the CRM, then a new cycle with hysteresis', async () => {
    await start();
    await handedOff();
    await ingest([
      change('hs_lead_status', 'UNQUALIFIED'),
      change('leadflow_disposition_reason', 'no_budget'),
    ]);
    await waitFor(() => crm.dispositions.length === 1, { what: 'disposition written' });
    const state = await waitFor(async () => {
      const s = await pipeline.ctx.leads.get(LEAD);
      return s.status === 'recycled' && s;
    });
    expect(state).toMatchObject({ stage: 'lead', cycle: 1, armed: false });
    expect(crm.dispositions).toEqual([{ lead: KEY, action: 'recycle' }]);
    // Audited after the state write: waited for, like the state.
    const [disposition] = await waitFor(async () => {
      const entries = await audit('disposition');
      return entries.length > 0 ? entries : undefined;
    });
    expect(disposition?.detail).toMatchObject({
      status: 'UNQUALIFIED',
      reason: 'no_budget',
      action: 'recycle',
    });
    // Replaying the same webhooks (or our own write's echo) does not recycle again.
    await processFollowup(pipeline.ctx, { kind: 'disposition', lead: LEAD });
    expect(crm.dispositions).toHaveLength(1);
  });

  it('the echo of the status our handoff wrote starts no disposition check and is no rep action', async () => {
    await start();
    await handedOff();
    await ingest([change('hs_lead_status', 'NEW')]);
    await waitFor(async () => (await pipeline.queues.ingest.getCompleted()).length === 2, {
      what: 'echo ingested',
    });
    expect(await pipeline.queues.followup.getJobs(['delayed', 'waiting', 'active', 'completed'])).toEqual([
      expect.objectContaining({ name: 'sla' }),
    ]);
    expect((await progress()).actedAt).toBeUndefined();
    await ingest([change('hs_lead_status', 'UNQUALIFIED')]);
    await waitFor(
      async () =>
        (await pipeline.queues.followup.getJobs(['delayed', 'waiting', 'active', 'completed'])).some(
          (j) => j.name === 'disposition',
        ),
      { what: 'disposition check queued' },
    );
    expect((await progress()).actedWhat).toBe('leadStatus → UNQUALIFIED');
  });

  it('an unknown reason code is reported and nothing is done', async () => {
    await start();
    await handedOff();
    await ingest([
      change('hs_lead_status', 'UNQUALIFIED'),
      change('leadflow_disposition_reason', 'moon_phase'),
    ]);
    await waitFor(async () => (await audit('disposition')).length > 0, { what: 'disposition reported' });
    const [reported] = await audit('disposition');
    expect(reported?.detail).toMatchObject({ action: 'unknown', reason: 'moon_phase' });
    expect(crm.dispositions).toHaveLength(0);
    expect((await pipeline.ctx.leads.get(LEAD)).status).toBe('open');
  });

  it('disqualified: written to the CRM, and a later demo request is not handed off again', async () => {
    await start();
    await handedOff();
    await ingest([
      change('hs_lead_status', 'UNQUALIFIED'),
      change('leadflow_disposition_reason', 'competitor'),
    ]);
    await waitFor(async () => (await pipeline.ctx.leads.get(LEAD)).status === 'disqualified');
    expect(crm.dispositions).toEqual([{ lead: KEY, action: 'disqualify' }]);
    await ingest([demoRequest()]);
    await waitFor(async () => (await pipeline.ctx.leads.get(LEAD)).handledHandRaises.length === 2);
    expect(crm.notes).toHaveLength(1);
  });

  it('a stage of opportunity or customer after the handoff counts as a conversion, once', async () => {
    await start();
    const record = await handedOff();
    await ingest([
      change('lifecyclestage', 'opportunity'),
      change('lifecyclestage', 'customer', Date.now() + 1),
    ]);
    await waitFor(
      async () => (await pipeline.ctx.timeline.profile(LEAD)).profile.lifecycleStage === 'customer',
    );
    const converted = await audit('converted');
    expect(converted).toHaveLength(1);
    expect(converted[0]?.detail).toEqual({ stage: 'opportunity', score: record.handoff.score.total });
  });
});
