import type { Server } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { signV3 } from '../../connectors/hubspot/signature.js';
import { signGeneric } from '../../src/receive/generic.js';
import { loadConfig } from '../../src/config/load.js';
import { createApp } from '../../src/http/app.js';
import { createHttpServer, listen } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { connectRedis } from '../../src/store/redis.js';
import { TEST_REDIS_URL, cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const SECRET = 'test-client-secret';
const base = loadConfig('config/default.yaml');
const logger = createLogger('silent');

function event(eventId: number, objectId = 101) {
  return {
    eventId,
    objectId,
    portalId: 33,
    occurredAt: Date.now(),
    subscriptionType: 'contact.propertyChange',
    propertyName: 'jobtitle',
    propertyValue: 'VP Sales',
  };
}

describe('POST /webhooks/hubspot', () => {
  const prefix = uniquePrefix('http');
  const config = {
    ...base,
    redis: { ...base.redis, prefix },
    webhooks: { ...base.webhooks, maxBodyBytes: 4096 },
  };
  let admin: Redis;
  let producer: Redis;
  let queues: Queues;
  let app: ReturnType<typeof createApp>;

  beforeAll(async () => {
    admin = testRedis();
    producer = connectRedis(TEST_REDIS_URL, { failFast: true });
    await new Promise((resolve) => producer.once('ready', resolve));
    queues = openQueues(producer, prefix, (err) => {
      throw err;
    });
    app = createApp({
      config,
      hubspotClientSecret: SECRET,
      queues,
      redis: producer,
      logger,
      metrics: createMetrics(),
    });
  });
  afterEach(async () => {
    await queues.ingest.obliterate({ force: true });
  });
  afterAll(async () => {
    await closeQueues(queues);
    await cleanPrefix(admin, prefix);
    producer.disconnect();
    admin.disconnect();
  });

  async function send(
    body: string,
    opts: { ts?: number; secret?: string; headers?: Record<string, string> } = {},
  ) {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const host = `127.0.0.1:${port}`;
    const headers = {
      ...signV3(
        'POST',
        `http://${host}/webhooks/hubspot`,
        body,
        opts.secret ?? SECRET,
        opts.ts ?? Date.now(),
      ),
      ...opts.headers,
    };
    try {
      return await request(`http://${host}`)
        .post('/webhooks/hubspot')
        .set('content-type', 'application/json')
        .set(headers)
        .send(body);
    } finally {
      server.close();
    }
  }

  it('accepts a signed batch and enqueues it once', async () => {
    const body = JSON.stringify([event(1), event(2)]);
    const res = await send(body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2 });
    const jobs = await queues.ingest.getJobs(['waiting', 'prioritized']);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.data).toMatchObject({
      source: 'hubspot',
      batch: { profile: [{ id: 'hubspot:33:1:101:jobtitle' }, { id: 'hubspot:33:2:101:jobtitle' }] },
    });
  });

  it.each([
    ['a wrong secret', { secret: 'nope' }, 401],
    ['a stale timestamp', { ts: Date.now() - 6 * 60_000 }, 401],
    ['a future timestamp', { ts: Date.now() + 6 * 60_000 }, 401],
  ])('rejects %s with %i and enqueues nothing', async (_l, opts, status) => {
    const res = await send(JSON.stringify([event(1)]), opts);
    expect(res.status).toBe(status);
    expect(await queues.ingest.count()).toBe(0);
  });

  it.each([
    ['malformed JSON', '[{"eventId":', 400, /not valid JSON/],
    ['the wrong shape', JSON.stringify([{ hello: 'world' }]), 400, /unexpected payload/],
    ['an empty array', '[]', 400, /unexpected payload/],
    [
      'a body over the limit',
      JSON.stringify(Array.from({ length: 60 }, (_, i) => event(i))),
      413,
      /too large/,
    ],
  ])('rejects %s and enqueues nothing', async (_l, body, status, message) => {
    const res = await send(body);
    expect(res.status).toBe(status);
    expect((res.body as { error: string }).error).toMatch(message);
    expect(await queues.ingest.count()).toBe(0);
  });

  it('rejects an unsigned request', async () => {
    const res = await request(app)
      .post('/webhooks/hubspot')
      .set('content-type', 'application/json')
      .send('[]');
    expect(res.status).toBe(401);
  });

  it('answers in milliseconds', async () => {
    const started = performance.now();
    const res = await send(JSON.stringify([event(9)]));
    expect(res.status).toBe(200);
    // Generous bound for a loaded CI box; the benchmark measures the real number.
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  const PUBLIC = 'https://leads.example.com';
  function appWith(redis: Redis, q: Queues) {
    const hubspot = { ...config.webhooks.hubspot, publicUrl: PUBLIC };
    return createApp({
      config: { ...config, webhooks: { ...config.webhooks, hubspot } },
      hubspotClientSecret: SECRET,
      queues: q,
      redis,
      logger,
      metrics: createMetrics(),
    });
  }

  it('signs with the configured public URL behind a proxy', async () => {
    const body = JSON.stringify([event(3)]);
    const headers = signV3('POST', `${PUBLIC}/webhooks/hubspot?x=1`, body, SECRET, Date.now());
    const res = await request(appWith(producer, queues))
      .post('/webhooks/hubspot?x=1')
      .set('content-type', 'application/json')
      .set(headers)
      .send(body);
    expect(res.status).toBe(200);
  });

  it('answers 503 and enqueues nothing when Redis is unreachable', async () => {
    const dead = connectRedis('redis://127.0.0.1:1', { failFast: true });
    dead.on('error', () => undefined);
    // Connection errors are the point of this test.
    const deadQueues = openQueues(dead, prefix, () => undefined);
    const down = appWith(dead, deadQueues);
    const body = JSON.stringify([event(4)]);
    const headers = signV3('POST', `${PUBLIC}/webhooks/hubspot`, body, SECRET, Date.now());
    const res = await request(down)
      .post('/webhooks/hubspot')
      .set('content-type', 'application/json')
      .set(headers)
      .send(body);
    expect(res.status).toBe(503);
    expect((await request(down).get('/readyz')).status).toBe(503);
    expect(await queues.ingest.count()).toBe(0);
    dead.disconnect();
  });

  it('echoes a request id, or makes one', async () => {
    const given = await request(app).get('/healthz').set('x-request-id', 'hubspot-delivery-42');
    expect(given.headers['x-request-id']).toBe('hubspot-delivery-42');
    const made = await request(app).get('/healthz').set('x-request-id', 'not ok; has spaces');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is not ready while the CRM token fails: a reason code for the caller, the details in the log', async () => {
    const logged: string[] = [];
    const checked = createApp({
      config,
      hubspotClientSecret: SECRET,
      queues,
      redis: producer,
      logger: createLogger(
        'info',
        new Writable({ write: (line: Buffer, _e, done) => done(void logged.push(String(line))) }),
      ),
      metrics: createMetrics(),
      checkCrm: () => Promise.reject(new Error('HubSpot token check failed: hubspot 401: expired')),
    });
    const res = await request(checked).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', reason: 'crm_check_failed' });
    expect(logged.map((l) => JSON.parse(l) as unknown)).toContainEqual(
      expect.objectContaining({
        msg: 'not ready',
        reason: 'crm_check_failed',
        err: 'HubSpot token check failed: hubspot 401: expired',
      }),
    );
  });

  it('serves health, readiness and metrics', async () => {
    expect((await request(app).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(app).get('/readyz')).status).toBe(200);
    const metrics = await request(app).get('/metrics');
    expect(metrics.text).toContain('leadflow_webhook_requests_total');
  });

  it('with METRICS_TOKEN set, serves /metrics only for that bearer token', async () => {
    const guarded = createApp({
      config,
      hubspotClientSecret: SECRET,
      queues,
      redis: producer,
      logger,
      metrics: createMetrics(),
      metricsToken: 'metrics-token-0123456789',
    });
    expect((await request(guarded).get('/metrics')).status).toBe(401);
    expect((await request(guarded).get('/metrics').set('authorization', 'Bearer nope')).status).toBe(401);
    const ok = await request(guarded).get('/metrics').set('authorization', 'Bearer metrics-token-0123456789');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('leadflow_webhook_requests_total');
    // Health stays open for the load balancer.
    expect((await request(guarded).get('/readyz')).status).toBe(200);
  });

  describe('POST /webhooks/events (generic signed JSON)', () => {
    const EVENTS_SECRET = 'generic-secret-0123456789';
    const generic = () =>
      createApp({
        config,
        hubspotClientSecret: SECRET,
        eventsSigningSecret: EVENTS_SECRET,
        queues,
        redis: producer,
        logger,
        metrics: createMetrics(),
      });
    const batch = JSON.stringify({
      events: [
        {
          id: 'webinar-77:ada',
          lead: { crm: 'hubspot', objectType: 'contact', id: '101' },
          type: 'webinar_attended',
          occurredAt: '2026-11-20T17:00:00Z',
          properties: { webinar: 'Lead handoff masterclass', minutes: 52 },
        },
      ],
    });

    it('accepts a signed batch, converting ISO times to ms', async () => {
      const res = await request(generic())
        .post('/webhooks/events')
        .set('content-type', 'application/json')
        .set(signGeneric(batch, EVENTS_SECRET, Date.now()))
        .send(batch);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ accepted: 1 });
      const [job] = await queues.ingest.getJobs(['waiting', 'prioritized']);
      expect(job?.data).toMatchObject({
        source: 'generic',
        batch: { engagement: [{ occurredAt: Date.parse('2026-11-20T17:00:00Z') }] },
      });
    });

    it.each([
      ['a wrong secret', signGeneric(batch, 'another-secret-0123456789', Date.now()), batch, 401],
      ['an old timestamp', signGeneric(batch, EVENTS_SECRET, Date.now() - 600_000), batch, 401],
      ['no events at all', signGeneric('{}', EVENTS_SECRET, Date.now()), '{}', 400],
      [
        'an unknown CRM',
        signGeneric(batch.replace('hubspot', 'pipedrive'), EVENTS_SECRET, Date.now()),
        batch.replace('hubspot', 'pipedrive'),
        400,
      ],
    ])('rejects %s and enqueues nothing', async (_l, headers, body, status) => {
      const res = await request(generic())
        .post('/webhooks/events')
        .set('content-type', 'application/json')
        .set(headers)
        .send(body);
      expect(res.status).toBe(status);
      expect(await queues.ingest.count()).toBe(0);
    });

    it('is off until a secret is configured', async () => {
      const res = await request(app).post('/webhooks/events').send(batch);
      expect(res.status).toBe(503);
    });
  });
});

describe('the HTTP server against silent and slow clients', () => {
  const prefix = uniquePrefix('http-edge');
  const http = { ...base.http, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 1_000 };
  let producer: Redis;
  let queues: Queues;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    producer = connectRedis(TEST_REDIS_URL, { failFast: true });
    await new Promise((resolve) => producer.once('ready', resolve));
    queues = openQueues(producer, prefix, () => undefined);
    const app = createApp({
      config: { ...base, redis: { ...base.redis, prefix }, http },
      hubspotClientSecret: SECRET,
      eventsSigningSecret: 'events-secret-0123456789',
      queues,
      redis: producer,
      logger,
      metrics: createMetrics(),
    });
    server = await listen(createHttpServer(app, http), 0, '127.0.0.1');
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.close();
    await closeQueues(queues);
    producer.disconnect();
  });

  /** Writes raw bytes on a fresh connection; resolves with all the server sent once it closes. */
  function raw(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(text));
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
  }

  it.each(['/webhooks/hubspot', '/webhooks/events', '/webhooks/salesforce', '/admin/api/leads'])(
    'answers a huge announced Content-Length with no body 413 at once on %s, and closes',
    async (path) => {
      // The old server read (for requestTimeout, 5 minutes by default) a body that never came.
      const answer = await Promise.race([
        raw(
          `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n`,
        ),
        new Promise<string>((resolve) => setTimeout(() => resolve('held'), 5_000)),
      ]);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    },
  );

  it('sets the configured timeouts on the node server', () => {
    expect(server.headersTimeout).toBe(1_000);
    expect(server.requestTimeout).toBe(2_000);
    expect(server.keepAliveTimeout).toBe(1_000);
  });

  it('drops a client that never finishes its headers', async () => {
    // No blank line: the headers never end. The server gives up after headersTimeoutMs.
    const answer = await raw('POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 |^$/);
  });
});
