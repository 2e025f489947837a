import { request as httpRequest, type ClientRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as OutboundModule from '../../connectors/salesforce/outbound.js';
import { OUTBOUND_ACK } from '../../connectors/salesforce/outbound.js';
import { processIngest } from '../../jobs/ingest.js';
import type { Config } from '../../src/config/schema.js';
import { createApp } from '../../src/http/app.js';
import { createHttpServer, listen } from '../../src/http/server.js';
import { signV3 } from '../../connectors/hubspot/signature.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { IngestJob } from '../../src/queue/catalog.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { connectRedis } from '../../src/store/redis.js';
import { FakeConnector } from '../helpers/fake-connector.js';
import {
  DTD_PAYLOADS,
  ORG_ID,
  leadNotification,
  outboundXml,
  sfId,
  type TestNotification,
} from '../helpers/outbound-message.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { TEST_REDIS_URL, cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { SalesforceState, sendOutboundMessage } from '../sandbox/salesforce.js';

const logger = createLogger('silent');
const TOKEN = 'outbound-token-0123456789abcdef-0123456789';
/** Counts the real parser's runs: a refused caller must cost none. */
const parses = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../connectors/salesforce/outbound.js', async (importOriginal) => {
  const actual = await importOriginal<typeof OutboundModule>();
  return {
    ...actual,
    parseOutboundMessage: (body: Uint8Array) => {
      parses.count++;
      return actual.parseOutboundMessage(body);
    },
  };
});
const HUBSPOT_SECRET = 'hubspot-client-secret';
const FAULT =
  /^<soapenv:Envelope xmlns:soapenv="http:\/\/schemas\.xmlsoap\.org\/soap\/envelope\/"><soapenv:Body><soapenv:Fault>/;

describe('POST /webhooks/salesforce (Outbound Messages, real Redis)', () => {
  const prefix = uniquePrefix('http-sf');
  const config = testConfig(prefix, (c) => ({
    ...c,
    webhooks: {
      ...c.webhooks,
      maxBodyBytes: 2 * 1024 * 1024,
      salesforce: { ...c.webhooks.salesforce, maxBodyBytes: 128 * 1024 },
    },
  }));
  let admin: Redis;
  let producer: Redis;
  let pipeline: Pipeline;
  let queues: Queues;
  let metrics: Metrics;

  beforeAll(async () => {
    admin = testRedis();
    producer = connectRedis(TEST_REDIS_URL, { failFast: true });
    await new Promise((resolve) => producer.once('ready', resolve));
    // No workers: tests look at the queued job, then run the ingest processor themselves.
    pipeline = await startPipeline({
      redis: producer,
      config,
      connector: new FakeConnector('salesforce'),
      workers: false,
    });
    queues = pipeline.queues;
  });
  beforeEach(() => {
    parses.count = 0;
  });
  afterEach(async () => {
    await queues.ingest.obliterate({ force: true });
  });
  afterAll(async () => {
    await pipeline.close();
    await cleanPrefix(admin, prefix);
    producer.disconnect();
    admin.disconnect();
  });

  function app(
    opts: {
      orgId?: string | undefined;
      token?: string | undefined;
      config?: Config;
      redis?: Redis;
      queues?: Queues;
    } = {},
  ) {
    metrics = createMetrics();
    return createApp({
      config: opts.config ?? config,
      hubspotClientSecret: HUBSPOT_SECRET,
      salesforceOrgId: 'orgId' in opts ? opts.orgId : ORG_ID,
      salesforceOutboundToken: 'token' in opts ? opts.token : TOKEN,
      queues: opts.queues ?? queues,
      redis: opts.redis ?? producer,
      logger,
      metrics,
    });
  }

  function post(target: ReturnType<typeof app>, xml: string, path = `/webhooks/salesforce/${TOKEN}`) {
    return request(target)
      .post(path)
      .set('content-type', 'text/xml; charset=utf-8')
      .set('soapaction', '""')
      .send(xml);
  }

  async function queuedJobs(): Promise<IngestJob[]> {
    const jobs = await queues.ingest.getJobs(['waiting', 'prioritized']);
    return jobs.map((j) => IngestJob.parse(j.data));
  }

  async function requestsCounted(status: string): Promise<number> {
    const metric = await metrics.webhookRequests.get();
    return (
      metric.values.find((v) => v.labels.source === 'salesforce' && v.labels.status === status)?.value ?? 0
    );
  }

  const profileOf = (job: IngestJob | undefined) => (job?.source === 'salesforce' ? job.batch.profile : []);

  it('acknowledges one notification with the exact SOAP Ack once it is queued', async () => {
    const res = await post(app(), outboundXml({ notifications: [leadNotification(1, { Phone: null })] }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(res.text).toBe(
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>',
    );
    const jobs = await queuedJobs();
    expect(jobs).toHaveLength(1);
    const lead = { crm: 'salesforce', objectType: 'lead', id: sfId('00Q', 1) };
    expect(jobs[0]).toMatchObject({
      source: 'salesforce',
      requestId: res.headers['x-request-id'],
      batch: { engagement: [] },
    });
    expect(profileOf(jobs[0])).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: `salesforce:om:${sfId('04l', 1)}:email`,
          lead,
          value: 'lead1@example.com',
        }),
        expect.objectContaining({ field: 'phone', lead, value: null }),
        expect.objectContaining({ field: 'lifecycleStage', value: 'Open - Not Contacted' }),
      ]),
    );
    expect(await requestsCounted('200')).toBe(1);
  });

  it('takes 100 notifications in one job', async () => {
    const notifications = Array.from({ length: 100 }, (_, i) => leadNotification(1000 + i));
    const res = await post(app(), outboundXml({ notifications }));
    expect(res.text).toBe(OUTBOUND_ACK);
    const jobs = await queuedJobs();
    expect(jobs).toHaveLength(1);
    expect(new Set(profileOf(jobs[0]).map((p) => p.lead.id)).size).toBe(100);
  });

  it('maps Leads and Contacts with a custom field mapping, and ignores other sObjects', async () => {
    const custom = testConfig(prefix, (c) => ({
      ...c,
      salesforce: {
        ...c.salesforce,
        fields: {
          ...c.salesforce.fields,
          lead: { ...c.salesforce.fields.lead, territory: 'Sales_Territory__c' },
        },
      },
    }));
    const contact = sfId('003', 20);
    const res = await post(
      app({ config: custom }),
      outboundXml({
        notifications: [
          leadNotification(20, { Sales_Territory__c: 'EMEA', Industry: null }),
          {
            id: sfId('04l', 21),
            sObject: 'Contact',
            fields: {
              Id: contact,
              MailingCountry: 'Germany',
              Leadflow_Lifecycle_Stage__c: 'Sales Qualified',
            },
          },
          { id: sfId('04l', 22), sObject: 'Opportunity', fields: { Id: sfId('006', 22), StageName: 'Won' } },
        ],
      }),
    );
    expect(res.text).toBe(OUTBOUND_ACK);
    const profile = profileOf((await queuedJobs())[0]);
    const value = (id: string, field: string) =>
      profile.find((p) => p.lead.id === id && p.field === field)?.value;
    expect(value(sfId('00Q', 20), 'territory')).toBe('EMEA');
    expect(value(sfId('00Q', 20), 'industry')).toBeNull();
    expect(value(contact, 'country')).toBe('Germany');
    expect(value(contact, 'lifecycleStage')).toBe('Sales Qualified');
    expect(profile.filter((p) => p.lead.id === sfId('006', 22))).toEqual([]);
    const ignored = (await metrics.events.get()).values.find(
      (v) => v.labels.source === 'salesforce' && v.labels.outcome === 'ignored',
    );
    expect(ignored?.value).toBe(1);
  });

  it('acknowledges a message with nothing to act on without queueing anything', async () => {
    const other: TestNotification = {
      id: sfId('04l', 30),
      sObject: 'Account',
      fields: { Id: sfId('001', 30) },
    };
    const res = await post(app(), outboundXml({ notifications: [other] }));
    expect(res.text).toBe(OUTBOUND_ACK);
    expect(await queues.ingest.count()).toBe(0);
  });

  it('collapses a repeated notification, and records a redelivered message once', async () => {
    const target = app();
    const repeated = outboundXml({ notifications: [leadNotification(40), leadNotification(40)] });
    expect((await post(target, repeated)).text).toBe(OUTBOUND_ACK);
    const single = outboundXml({ notifications: [leadNotification(40)] });
    // Salesforce missed our first Ack and sends the message again.
    expect((await post(target, single)).text).toBe(OUTBOUND_ACK);

    const [first, again] = await queuedJobs();
    expect(profileOf(first)).toEqual(profileOf(again));
    const fields = profileOf(first).map((p) => p.field);
    expect(new Set(fields).size).toBe(fields.length);

    const once = await processIngest(pipeline.ctx, first!, false);
    const twice = await processIngest(pipeline.ctx, again!, false);
    expect(once).toMatchObject({ recorded: fields.length, duplicates: 0 });
    expect(twice).toMatchObject({ recorded: 0, duplicates: fields.length });
    const { profile } = await pipeline.ctx.timeline.profile({
      crm: 'salesforce',
      objectType: 'lead',
      id: sfId('00Q', 40),
    });
    expect(profile).toMatchObject({ email: 'lead40@example.com', lifecycleStage: 'Open - Not Contacted' });
  });

  it('refuses another org with 403 and queues nothing', async () => {
    const res = await post(
      app(),
      outboundXml({ orgId: '00D5g000004bXyAEAU', notifications: [leadNotification(50)] }),
    );
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(res.text).toMatch(FAULT);
    expect(res.text).toContain(
      '<faultcode>soapenv:Client</faultcode><faultstring>OrganizationId does not match SALESFORCE_ORG_ID</faultstring>',
    );
    expect(res.text).not.toContain('<Ack>');
    expect(await queues.ingest.count()).toBe(0);
    expect(await requestsCounted('403')).toBe(1);
  });

  it('accepts the 15-character form of the configured org id', async () => {
    const res = await post(
      app({ orgId: ORG_ID.slice(0, 15) }),
      outboundXml({ notifications: [leadNotification(51)] }),
    );
    expect(res.text).toBe(OUTBOUND_ACK);
    expect(await queues.ingest.count()).toBe(1);
  });

  it('answers 503 until SALESFORCE_ORG_ID is configured', async () => {
    const res = await post(app({ orgId: undefined }), outboundXml({ notifications: [leadNotification(52)] }));
    expect(res.status).toBe(503);
    expect(res.text).toContain(
      '<faultcode>soapenv:Server</faultcode><faultstring>Salesforce Outbound Messages are not configured: set SALESFORCE_ORG_ID</faultstring>',
    );
    expect(await queues.ingest.count()).toBe(0);
  });

  it.each(Object.entries(DTD_PAYLOADS))(
    'refuses %s with 400 and queues nothing',
    async (_label, { prolog, value }) => {
      const xml = outboundXml({
        prolog,
        notifications: [leadNotification(60, { FirstName: 'PLACEHOLDER' })],
      });
      const res = await post(app(), xml.replace('PLACEHOLDER', value));
      expect(res.status).toBe(400);
      expect(res.text).toMatch(FAULT);
      expect(res.text).toContain('DTDs and entity declarations are not allowed');
      expect(res.text).not.toContain('root:');
      expect(await queues.ingest.count()).toBe(0);
    },
  );

  it.each([
    [
      'malformed XML',
      outboundXml({ notifications: [leadNotification(70)] }).slice(0, -30),
      /malformed XML: /,
    ],
    [
      'more than 100 notifications',
      outboundXml({ notifications: Array.from({ length: 101 }, (_, i) => leadNotification(100 + i)) }),
      /expected array to have &lt;=100 items/,
    ],
    ['no notifications', outboundXml({ notifications: [] }), /not an Outbound Message/],
  ])('refuses %s with 400 and queues nothing', async (_label, xml, reason) => {
    const res = await post(app(), xml);
    expect(res.status).toBe(400);
    expect(res.text).toMatch(FAULT);
    expect(res.text).toMatch(reason);
    expect(await queues.ingest.count()).toBe(0);
    expect(await requestsCounted('400')).toBe(1);
  });

  it('refuses a body over the size limit with a SOAP fault', async () => {
    const notifications = Array.from({ length: 100 }, (_, i) =>
      leadNotification(300 + i, { Description: 'x'.repeat(1_500) }),
    );
    const res = await post(app(), outboundXml({ notifications }));
    expect(res.status).toBe(413);
    expect(res.text).toMatch(FAULT);
    expect(await queues.ingest.count()).toBe(0);
  });

  it('acknowledges what the sandbox sends as Salesforce would, to a listening app', async () => {
    const org = new SalesforceState();
    const id = org.insert('Lead', {
      Email: 'grace@example.com',
      FirstName: 'Grace',
      LastName: 'Hopper',
      Company: 'Navy',
      Status: 'Working - Contacted',
      Phone: null,
    });
    const record = org.get('Lead', id)!;
    const fields = Object.fromEntries(
      ['Id', 'Email', 'FirstName', 'LastName', 'Company', 'Status', 'Phone', 'SystemModstamp'].map((name) => {
        const value = record[name];
        return [name, value === null || value === undefined ? null : String(value)];
      }),
    );
    const server = app({ orgId: org.orgId }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/salesforce/${TOKEN}`;
    const notification = { id: sfId('04l', 90), fields };
    try {
      const sent = await sendOutboundMessage(url, {
        orgId: org.orgId,
        sessionId: '00D000000000001!AQsecretSessionToken',
        sObject: 'Lead',
        notifications: [notification],
      });
      expect(sent).toEqual({ status: 200, acked: true, body: OUTBOUND_ACK });
      const foreign = await sendOutboundMessage(url, {
        orgId: '00D000000000002AAA',
        sObject: 'Lead',
        notifications: [notification],
      });
      expect(foreign).toMatchObject({ status: 403, acked: false });
    } finally {
      server.close();
    }

    const [job, ...others] = await queuedJobs();
    expect(others).toEqual([]);
    expect(JSON.stringify(job)).not.toContain('secretSessionToken');
    const lead = { crm: 'salesforce', objectType: 'lead', id };
    // The sandbox stamps like Salesforce (`2026-11-24T09:48:00.000+0000`): the change keeps that time.
    const occurredAt = Date.parse(String(record.SystemModstamp));
    expect(Number.isFinite(occurredAt)).toBe(true);
    expect(profileOf(job)).toEqual(
      expect.arrayContaining(
        [
          ['email', 'grace@example.com'],
          ['company', 'Navy'],
          ['leadStatus', 'Working - Contacted'],
          ['lifecycleStage', 'Working - Contacted'],
          ['phone', null],
        ].map(([field, value]): unknown => expect.objectContaining({ lead, field, value, occurredAt })),
      ),
    );
  });

  it('answers 503 without an Ack when Redis is unreachable', async () => {
    const dead = connectRedis('redis://127.0.0.1:1', { failFast: true });
    // Connection errors are the point of this test.
    dead.on('error', () => undefined);
    const deadQueues = openQueues(dead, prefix, () => undefined);
    try {
      const res = await post(
        app({ redis: dead, queues: deadQueues }),
        outboundXml({ notifications: [leadNotification(80)] }),
      );
      expect(res.status).toBe(503);
      expect(res.text).toContain(
        '<faultcode>soapenv:Server</faultcode><faultstring>queue unavailable, retry later',
      );
      expect(res.text).not.toContain('<Ack>');
      expect(await queues.ingest.count()).toBe(0);
      expect(await requestsCounted('503')).toBe(1);
    } finally {
      await closeQueues(deadQueues).catch(() => undefined);
      dead.disconnect();
    }
  });

  describe('who may deliver (issue #17: the org id is public)', () => {
    const xml = () => outboundXml({ notifications: [leadNotification(500)] });

    it('answers 503 naming SALESFORCE_OUTBOUND_TOKEN while it is unset, whatever the path', async () => {
      const target = app({ token: undefined });
      for (const path of ['/webhooks/salesforce', `/webhooks/salesforce/${TOKEN}`]) {
        const res = await post(target, xml(), path);
        expect(res.status).toBe(503);
        expect(res.text).toContain(
          '<faultstring>Salesforce Outbound Messages are not configured: set SALESFORCE_OUTBOUND_TOKEN</faultstring>',
        );
      }
      expect(parses.count).toBe(0);
      expect(await queues.ingest.count()).toBe(0);
    });

    it('refuses a forged message that knows the org id but not the URL token, without parsing it', async () => {
      const target = app();
      for (const path of [
        '/webhooks/salesforce',
        '/webhooks/salesforce/',
        `/webhooks/salesforce/${TOKEN}x`,
      ]) {
        const res = await post(target, xml(), path);
        expect(res.status).toBe(404);
        expect(res.text).toMatch(FAULT);
        expect(res.text).toContain('/webhooks/salesforce/&lt;SALESFORCE_OUTBOUND_TOKEN&gt;');
        expect(res.text).not.toContain('<Ack>');
      }
      expect(parses.count).toBe(0);
      expect(await queues.ingest.count()).toBe(0);
      expect(await requestsCounted('404')).toBe(3);
    });

    it('accepts the previous token while rotating', async () => {
      const previous = 'previous-token-0123456789abcdef-012345';
      const target = createApp({
        config,
        hubspotClientSecret: undefined,
        salesforceOrgId: ORG_ID,
        salesforceOutboundToken: TOKEN,
        salesforceOutboundTokenPrevious: previous,
        queues,
        redis: producer,
        logger,
        metrics: createMetrics(),
      });
      expect((await post(target, xml(), `/webhooks/salesforce/${previous}`)).text).toBe(OUTBOUND_ACK);
      expect((await post(target, xml())).text).toBe(OUTBOUND_ACK);
    });

    it('checks the allow-listed source address through trusted proxies only', async () => {
      const listed = (trustProxy: number) =>
        app({
          config: {
            ...config,
            http: { ...config.http, trustProxy },
            webhooks: {
              ...config.webhooks,
              salesforce: { ...config.webhooks.salesforce, allowIps: ['13.108.0.0/14'] },
            },
          },
        });
      const from = (target: ReturnType<typeof app>, forwardedFor: string) =>
        post(target, xml()).set('x-forwarded-for', forwardedFor);
      // Behind one proxy, the address it appends is the client's.
      expect((await from(listed(1), '10.9.9.9, 13.109.4.4')).text).toBe(OUTBOUND_ACK);
      const outside = await from(listed(1), '13.109.4.4, 10.9.9.9');
      expect(outside.status).toBe(403);
      expect(outside.text).toContain('source address not allowed by webhooks.salesforce.allowIps');
      // Without a trusted proxy a forwarded header is anyone's to send: the peer (127.0.0.1) counts.
      expect((await from(listed(0), '13.109.4.4')).status).toBe(403);
      expect(parses.count).toBe(1);
    });

    it('demands the client certificate fingerprint a trusted proxy passes on', async () => {
      const fingerprint = 'AB:'.repeat(31) + 'CD';
      const target = app({
        config: {
          ...config,
          http: { ...config.http, trustProxy: 1 },
          webhooks: {
            ...config.webhooks,
            salesforce: {
              ...config.webhooks.salesforce,
              clientCertificate: {
                header: 'x-ssl-client-sha256',
                fingerprints: [fingerprint.replace(/:/g, '').toLowerCase()],
              },
            },
          },
        },
      });
      expect((await post(target, xml()).set('x-ssl-client-sha256', fingerprint)).text).toBe(OUTBOUND_ACK);
      for (const given of [undefined, 'AB:'.repeat(31) + 'CE']) {
        const req = post(target, xml());
        const res = await (given ? req.set('x-ssl-client-sha256', given) : req);
        expect(res.status).toBe(403);
        expect(res.text).toContain(
          'client certificate missing or not in webhooks.salesforce.clientCertificate',
        );
      }
      expect(parses.count).toBe(1);
    });
  });

  describe('unauthenticated XML cannot stall the server (issue #17)', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = await listen(createHttpServer(app(), config.http), 0, '127.0.0.1');
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** Starts a POST: headers and `sent` of the body now; resolves with the status once answered. */
    function open(path: string, body: Buffer, sent = body.length) {
      let req!: ClientRequest;
      const status = new Promise<number>((resolve) => {
        req = httpRequest(
          `${base}${path}`,
          { method: 'POST', headers: { 'content-type': 'text/xml', 'content-length': body.length } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        // The server may close before the whole body is written: the answer is what counts.
        req.on('error', () => resolve(0));
        req.write(body.subarray(0, sent));
      });
      return { status, finish: () => req.end(body.subarray(sent)) };
    }

    it('refuses 8 concurrent 1 MB unauthenticated bodies unparsed while /healthz and HubSpot answer', async () => {
      const big = Buffer.from(
        outboundXml({
          notifications: Array.from({ length: 100 }, (_, i) =>
            leadNotification(600 + i, { Description: 'x'.repeat(10_000) }),
          ),
        }),
      );
      expect(big.length).toBeGreaterThan(1_000_000);
      const started = Date.now();
      const floods = Array.from({ length: 8 }, (_, i) =>
        open(i % 2 ? '/webhooks/salesforce' : '/webhooks/salesforce/wrong-token', big),
      );
      floods.forEach((f) => f.finish());
      const health = await fetch(`${base}/healthz`);
      const healthMs = Date.now() - started;
      const events = JSON.stringify([
        {
          eventId: 1,
          portalId: 33,
          objectId: 7,
          occurredAt: Date.now(),
          subscriptionType: 'contact.creation',
        },
      ]);
      const url = `${base}/webhooks/hubspot`;
      const hubspot = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...signV3('POST', url, events, HUBSPOT_SECRET, Date.now()),
        },
        body: events,
      });
      expect(health.status).toBe(200);
      expect(hubspot.status).toBe(200);
      expect(await Promise.all(floods.map((f) => f.status))).toEqual(Array(8).fill(404));
      expect(parses.count).toBe(0);
      // Generous: the old server held /healthz 2–5 s under four such bodies.
      expect(healthMs).toBeLessThan(3_000);
    });

    it('refuses an authenticated body over webhooks.salesforce.maxBodyBytes from its Content-Length, unparsed', async () => {
      const over = Buffer.alloc(config.webhooks.salesforce.maxBodyBytes + 1, 0x20);
      // Only the headers are sent: the answer must not wait for the body.
      const { status, finish } = open(`/webhooks/salesforce/${TOKEN}`, over, 0);
      expect(await status).toBe(413);
      finish();
      expect(parses.count).toBe(0);
    });

    it('parses at most maxConcurrent messages at once and answers the next 503 with Retry-After', async () => {
      const body = Buffer.from(xml700());
      const held = Array.from({ length: config.webhooks.salesforce.maxConcurrent }, () =>
        open(`/webhooks/salesforce/${TOKEN}`, body, 10),
      );
      // Once both slots are held, a further authenticated delivery is turned away unread.
      const refused = await waitFor(
        async () => {
          const res = await fetch(`${base}/webhooks/salesforce/${TOKEN}`, { method: 'POST', body: '<x' });
          return res.status === 503 ? res : undefined;
        },
        { what: 'a delivery beyond the cap to be refused' },
      );
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await refused.text()).toContain('too many deliveries in progress, retry later');
      held.forEach((h) => h.finish());
      expect(await Promise.all(held.map((h) => h.status))).toEqual(held.map(() => 200));
      // The slots are free again.
      const after = await fetch(`${base}/webhooks/salesforce/${TOKEN}`, { method: 'POST', body: xml700() });
      expect(after.status).toBe(200);
    });

    const xml700 = () => outboundXml({ notifications: [leadNotification(700)] });
  });
});
