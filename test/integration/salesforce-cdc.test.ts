import type { Redis } from 'ioredis';
import jsforce, { type Connection } from 'jsforce';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SalesforceCdcSubscriber } from '../../connectors/salesforce/cdc.js';
import { RECONCILE_OVERLAP_MS } from '../../connectors/salesforce/mapping.js';
import { SalesforceFields } from '../../src/config/schema.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { IngestJob, PollJob } from '../../src/queue/catalog.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { keys as keysFor, type Keys } from '../../src/store/keys.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { testConfig } from '../helpers/pipeline.js';
import { createApp } from '../../src/http/app.js';
import request from 'supertest';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { changeEventPayload, type StreamingState } from '../sandbox/salesforce-streaming.js';

const LEADS = '/data/LeadChangeEvent';
const CONTACTS = '/data/ContactChangeEvent';
const LEAD = '00Q000000000001AAA';
const fields = SalesforceFields.parse({});
const INITIAL_TOKEN = 'token-0';
const ORG_ID = '00D000000000001AAA';

describe('Salesforce CDC subscriber (sandbox CometD, real jsforce, real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let k: Keys;
  let queues: Queues;
  let sandbox: Sandbox;
  let streaming: StreamingState;
  /** Tokens jsforce's refresh function handed out, in order. */
  let refreshed: string[];
  const subscribers: SalesforceCdcSubscriber[] = [];

  beforeEach(async () => {
    redis = testRedis();
    prefix = uniquePrefix('cdc');
    k = keysFor(prefix);
    queues = openQueues(redis, prefix, (err) => {
      throw err;
    });
    sandbox = await startSandbox();
    streaming = sandbox.salesforceStreaming;
    refreshed = [];
    // Short holds keep the tests fast; the real server holds a connect up to 110 s.
    streaming.holdMs = 300;
  });
  afterEach(async () => {
    await Promise.all(subscribers.splice(0).map((s) => s.stop()));
    await sandbox.close();
    await closeQueues(queues);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  /** A real jsforce connection whose refresh mints a new token, as a JWT bearer `refreshFn` does. */
  function connection(): Connection {
    return new jsforce.Connection({
      instanceUrl: sandbox.url,
      accessToken: INITIAL_TOKEN,
      version: '62.0',
      refreshFn: (_conn, callback) => {
        refreshed.push(`token-${refreshed.length + 1}`);
        callback(null, refreshed.at(-1));
      },
    });
  }

  function subscriber(conn = connection(), channels = [LEADS, CONTACTS]): SalesforceCdcSubscriber {
    const s = new SalesforceCdcSubscriber({
      conn,
      redis,
      keys: k,
      queues,
      fields,
      channels,
      orgId: '00D000000000001AAA',
      logger: createLogger('silent'),
      metrics: createMetrics(),
      lockTtlMs: 600,
      retry: { minMs: 50, maxMs: 400 },
    });
    subscribers.push(s);
    return s;
  }

  /** Waits until `n` subscribe requests have succeeded in all (clients only get events published after). */
  const subscribed = (n: number) =>
    waitFor(() => streaming.subscribes.filter((s) => s.successful).length >= n, {
      what: `${n} subscriptions`,
    });

  let tx = 0;
  function publishTitle(title: string, channel = LEADS, recordId = LEAD): number {
    return streaming.publishChange(
      channel,
      changeEventPayload({
        entityName: channel === LEADS ? 'Lead' : 'Contact',
        changeType: 'UPDATE',
        recordIds: [recordId],
        fields: { Title: title },
        transactionKey: `tx-${++tx}`,
      }),
    );
  }

  /** The ingest jobs queued so far, oldest first, parsed as the worker would. */
  async function ingested(): Promise<IngestJob[]> {
    const jobs = await queues.ingest.getJobs([
      'waiting',
      'prioritized',
      'active',
      'completed',
      'delayed',
      'failed',
    ]);
    return jobs.sort((a, b) => Number(a.id) - Number(b.id)).map((j) => IngestJob.parse(j.data));
  }
  /** Job titles queued for one object type, in queue order (order is per channel). */
  async function titles(objectType = 'lead'): Promise<string[]> {
    return (await ingested()).flatMap((job) =>
      job.source === 'salesforce'
        ? job.batch.profile
            .filter((c) => c.field === 'jobTitle' && c.lead.objectType === objectType)
            .map((c) => String(c.value))
        : [],
    );
  }
  const waitTitles = (expected: string[], objectType = 'lead') =>
    waitFor(async () => ((await titles(objectType)).length >= expected.length ? titles(objectType) : null), {
      what: `titles ${expected.join(',')}`,
    }).then((got) => expect(got).toEqual(expected));
  const position = (channel = LEADS) => redis.hgetall(k.replayId(channel));

  it('queues mapped changes in order, storing each replay id and commit time after its job', async () => {
    await subscriber().start();
    await subscribed(2);
    for (const t of ['a', 'b', 'c', 'd', 'e']) publishTitle(t);
    const contact = '003000000000001AAA';
    publishTitle('contact-title', CONTACTS, contact);
    await waitTitles(['a', 'b', 'c', 'd', 'e']);
    await waitTitles(['contact-title'], 'contact');

    const jobs = await ingested();
    expect(jobs[0]).toMatchObject({ source: 'salesforce', batch: { engagement: [] } });
    const first = jobs[0]!.source === 'salesforce' ? jobs[0]!.batch.profile[0]! : null;
    expect(first).toMatchObject({
      id: `salesforce:cdc:tx-1:1:${LEAD}:jobTitle`,
      lead: { crm: 'salesforce', objectType: 'lead', id: LEAD },
      source: 'salesforce.cdc',
    });
    await waitFor(async () => (await position()).replayId === '5');
    const lastLead = streaming.retained(LEADS).at(-1)!.payload.ChangeEventHeader as {
      commitTimestamp: number;
    };
    expect(await position()).toEqual({ replayId: '5', commitTimestamp: String(lastLead.commitTimestamp) });
    expect(await position(CONTACTS)).toMatchObject({ replayId: '1' });
  });

  it('a restart resumes from the stored replay id: what was published while stopped arrives, nothing twice', async () => {
    const first = subscriber();
    await first.start();
    await subscribed(2);
    publishTitle('before-1');
    publishTitle('before-2');
    await waitTitles(['before-1', 'before-2']);
    await waitFor(async () => (await position()).replayId === '2');
    await first.stop();

    publishTitle('while-stopped-1');
    publishTitle('while-stopped-2');
    await subscriber().start();
    await waitTitles(['before-1', 'before-2', 'while-stopped-1', 'while-stopped-2']);
    expect(streaming.subscribes.filter((s) => s.channel === LEADS).map((s) => s.replay)).toEqual([-1, 2]);

    publishTitle('after');
    await waitTitles(['before-1', 'before-2', 'while-stopped-1', 'while-stopped-2', 'after']);
    const ids = (await ingested()).flatMap((j) =>
      j.source === 'salesforce' ? j.batch.profile.map((c) => c.id) : [],
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a revoked token (401::Authentication invalid) makes it refresh the token, recreate the client and go on', async () => {
    const conn = connection();
    await subscriber(conn, [LEADS]).start();
    await subscribed(1);
    publishTitle('before');
    await waitTitles(['before']);
    const handshakes = streaming.handshakes;

    streaming.revokeToken(INITIAL_TOKEN);
    await waitFor(() => conn.accessToken === 'token-1', { what: 'token refresh' });
    await waitFor(
      () => streaming.handshakes > handshakes && streaming.subscribes.filter((s) => s.successful).length >= 2,
    );
    expect(refreshed).toEqual(['token-1']);
    expect(streaming.subscribes.at(-1)).toMatchObject({ channel: LEADS, replay: 1, successful: true });

    publishTitle('after');
    await waitTitles(['before', 'after']);
  });

  it('a refresh from elsewhere (REST traffic) also recreates the client with the new token', async () => {
    const conn = connection();
    await subscriber(conn, [LEADS]).start();
    await subscribed(1);
    conn.accessToken = 'another-token';
    conn.emit('refresh', 'another-token');
    await subscribed(2);
    streaming.revokeToken(INITIAL_TOKEN);
    publishTitle('after refresh');
    await waitTitles(['after refresh']);
    expect(refreshed).toEqual([]);
  });

  it('a channel refused for want of View All Records is reported (log, metric, /readyz) and not retried; the others run', async () => {
    streaming.viewAllData = false;
    streaming.viewAllRecords = new Set(['Contact']);
    const metrics = createMetrics();
    const s = new SalesforceCdcSubscriber({
      conn: connection(),
      redis,
      keys: k,
      queues,
      fields,
      channels: [LEADS, CONTACTS],
      orgId: ORG_ID,
      logger: createLogger('silent'),
      metrics,
      lockTtlMs: 600,
      retry: { minMs: 50, maxMs: 400 },
      refusedProbeMs: 60_000,
    });
    subscribers.push(s);
    await s.start();
    const refusal = await waitFor(() => redis.hget(k.cdcRefused(ORG_ID), LEADS), {
      what: 'refusal recorded',
    });
    expect(refusal).toContain('View All Records on Lead (or View All Data)');
    expect(await redis.pttl(k.cdcRefused(ORG_ID))).toBeGreaterThan(0);
    const gauge = (await metrics.cdcRefused.get()).values;
    expect(gauge.find((v) => v.labels.channel === LEADS)?.value).toBe(1);

    // The permitted channel runs on; the refused one was asked once, not again and again.
    await subscribed(1);
    publishTitle('contact-title', CONTACTS, '003000000000001AAA');
    await waitTitles(['contact-title'], 'contact');
    expect(streaming.subscribes.filter((r) => r.channel === LEADS)).toEqual([
      expect.objectContaining({ successful: false }),
    ]);

    const config = testConfig(prefix, (c) => ({
      ...c,
      salesforce: { ...c.salesforce, cdc: { channels: [LEADS] } },
    }));
    const app = createApp({
      config,
      hubspotClientSecret: undefined,
      salesforceOrgId: ORG_ID,
      queues,
      redis,
      logger: createLogger('silent'),
      metrics,
    });
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(200);
    // The channel is named; Salesforce's words stay in the log and the Redis record, not a public answer.
    expect(ready.body).toEqual({ status: 'degraded', reasons: [`salesforce_cdc_refused:${LEADS}`] });
  });

  it('/data/ChangeEvents accepts the subscription and leaves out events of objects the user may not view', async () => {
    const ALL = '/data/ChangeEvents';
    streaming.viewAllData = false;
    streaming.viewAllRecords = new Set(['Contact']);
    await subscriber(connection(), [ALL]).start();
    await subscribed(1);
    streaming.publishChange(
      ALL,
      changeEventPayload({
        entityName: 'Lead',
        changeType: 'UPDATE',
        recordIds: [LEAD],
        fields: { Title: 'hidden' },
        transactionKey: 'tx-h',
      }),
    );
    streaming.publishChange(
      ALL,
      changeEventPayload({
        entityName: 'Contact',
        changeType: 'UPDATE',
        recordIds: ['003000000000001AAA'],
        fields: { Title: 'seen' },
        transactionKey: 'tx-s',
      }),
    );
    await waitTitles(['seen'], 'contact');
    expect(await titles('lead')).toEqual([]);
    expect(await redis.exists(k.cdcRefused(ORG_ID))).toBe(0);
  });

  it('a GAP event queues a reconciliation poll from a minute before its commit', async () => {
    await subscriber().start();
    await subscribed(2);
    const commitTimestamp = Date.now() - 5_000;
    streaming.publishGap(CONTACTS, { entityName: 'Contact', changeType: 'GAP_UPDATE', commitTimestamp });
    await waitFor(async () => (await position(CONTACTS)).replayId === '1');
    const polls = (await queues.poll.getJobs(['waiting', 'delayed'])).map((j) => PollJob.parse(j.data));
    expect(polls).toEqual([
      { crm: 'salesforce', source: 'contacts', since: commitTimestamp - RECONCILE_OVERLAP_MS },
    ]);
    expect(await ingested()).toEqual([]);
  });

  it('a replay id the server no longer has falls back to new events plus a poll from the last commit time', async () => {
    const first = subscriber(connection(), [LEADS]);
    await first.start();
    await subscribed(1);
    publishTitle('old');
    await waitFor(async () => (await position()).replayId === '1');
    const { commitTimestamp } = await position();
    await first.stop();

    // Past the retention window: event 1 is gone from the server.
    streaming.retentionMs = 50;
    await new Promise((resolve) => setTimeout(resolve, 100));
    await subscriber(connection(), [LEADS]).start();
    await waitFor(() => streaming.subscribes.filter((s) => s.successful).length >= 2, {
      what: 'resubscribed',
    });
    expect(streaming.subscribes.map((s) => [s.replay, s.successful])).toEqual([
      [-1, true],
      [1, false],
      [-1, true],
    ]);
    const since = Number(commitTimestamp) - RECONCILE_OVERLAP_MS;
    await waitFor(async () => (await queues.poll.getJobs(['waiting'])).length > 0, {
      what: 'reconciliation poll',
    });
    expect((await queues.poll.getJobs(['waiting'])).map((j) => PollJob.parse(j.data))).toEqual([
      { crm: 'salesforce', source: 'leads', since },
    ]);

    streaming.retentionMs = 3_600_000;
    publishTitle('new');
    await waitTitles(['old', 'new']);
    await waitFor(async () => (await position()).replayId === '2');
  });

  it('a failed enqueue does not advance the replay id; the channel reconnects from it and loses nothing', async () => {
    await subscriber(connection(), [LEADS]).start();
    await subscribed(1);
    publishTitle('ok-1');
    await waitFor(async () => (await position()).replayId === '1');

    const add = vi.spyOn(queues.ingest, 'add');
    add
      .mockRejectedValueOnce(new Error('Redis unavailable'))
      .mockRejectedValueOnce(new Error('Redis unavailable'));
    publishTitle('retried');
    publishTitle('after');
    await waitFor(() => add.mock.calls.length >= 2, { what: 'failed enqueues' });
    expect((await position()).replayId).toBe('1');

    await waitTitles(['ok-1', 'retried', 'after']);
    await waitFor(async () => (await position()).replayId === '3');
    // Each failure closed the client and resubscribed from the stored replay id.
    expect(streaming.subscribes.map((s) => s.replay)).toEqual([-1, 1, 1]);
  });

  it('only one subscriber per org is active; the standby takes over when it stops', async () => {
    const a = subscriber(connection(), [LEADS]);
    const b = subscriber(connection(), [LEADS]);
    await a.start();
    await b.start();
    expect([a.isActive, b.isActive]).toEqual([true, false]);
    await subscribed(1);
    publishTitle('one');
    await waitTitles(['one']);
    expect(streaming.subscribes).toHaveLength(1);

    await a.stop();
    await waitFor(() => b.isActive, { what: 'standby takes over' });
    await subscribed(2);
    publishTitle('two');
    await waitTitles(['one', 'two']);
    expect(streaming.subscribes.map((s) => s.replay)).toEqual([-1, 1]);
  });

  it('a subscriber that lost its lock stops and writes nothing', async () => {
    const a = subscriber(connection(), [LEADS]);
    await a.start();
    await subscribed(1);
    // Another process took the lock (e.g. this one was paused past the TTL).
    await redis.set(k.cdcLock('00D000000000001AAA'), 'someone-else', 'PX', 60_000);
    publishTitle('while-not-holder');
    await waitFor(() => !a.isActive, { what: 'stand down' });
    expect(await position()).toEqual({});
  });
});
