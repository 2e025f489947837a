import express from 'express';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOfDay } from '../../src/domain/time.js';
import { createAdminRouter } from '../../src/http/admin.js';
import type { LeadStory } from '../../src/http/lead-data.js';
import { summarizeSpeed, type Report } from '../../src/reports/index.js';
import { closeQueues, enqueueScore, openQueues, type Queues } from '../../src/queue/queues.js';
import { seedAdminData } from '../helpers/admin-fixture.js';
import { testConfig } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const TOKEN = 'admin-token-0123456789';
// Midday in the team's time zone (sla.workingHours), so the fixture's handoffs are all today's.
const NOW = startOfDay('America/New_York', Date.now()) + 12 * 3_600_000;

describe('/admin API', () => {
  const prefix = uniquePrefix('admin');
  let redis: Redis;
  let queues: Queues;
  let app: express.Express;

  beforeAll(async () => {
    redis = testRedis();
    queues = openQueues(redis, prefix, (err) => {
      throw err;
    });
    await seedAdminData(redis, queues, prefix, NOW);
    app = express().use(
      '/admin',
      createAdminRouter({
        adminToken: TOKEN,
        redis,
        queues,
        config: testConfig(prefix),
        now: () => NOW,
        // A CRM link that is no web address is left out.
        recordUrl: (lead) =>
          Promise.resolve(
            lead.id === '502' ? 'javascript:alert(1)' : `https://crm.example/contact/${lead.id}`,
          ),
      }),
    );
  });
  afterAll(async () => {
    await closeQueues(queues);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  const auth = { authorization: `Bearer ${TOKEN}` };

  it('is off without a token configured, and closed without the right one', async () => {
    const off = express().use(
      '/admin',
      createAdminRouter({ adminToken: undefined, redis, queues, config: testConfig(prefix) }),
    );
    expect((await request(off).get('/admin/api/overview').set(auth)).status).toBe(503);
    expect((await request(app).get('/admin/api/overview')).status).toBe(401);
    expect((await request(app).get('/admin/api/overview').set('authorization', 'Bearer nope')).status).toBe(
      401,
    );
    // The token is never taken from a URL: the page sends a browser to sign in.
    expect((await request(app).get(`/admin/api/overview?token=${TOKEN}`)).status).toBe(401);
    const page = await request(app).get(`/admin?token=${TOKEN}`);
    expect([page.status, page.headers.location]).toEqual([303, '/admin/login']);
  });

  it('refuses ?token= on every path, whatever its case (the router ignores case)', async () => {
    for (const base of ['/admin/API', '/admin/Api', '/admin/api']) {
      expect((await request(app).get(`${base}/overview?token=${TOKEN}`)).status).toBe(401);
      expect((await request(app).get(`${base}/dead-letters?token=${TOKEN}`)).status).toBe(401);
      const job = `${base}/dead-letters/writeback/hf.broken`;
      expect((await request(app).post(`${job}/replay?token=${TOKEN}`)).status).toBe(401);
      expect((await request(app).delete(`${job}?token=${TOKEN}`)).status).toBe(401);
    }
    expect((await request(app).get(`/ADMIN/?token=${TOKEN}`)).status).toBe(303);
    expect(await queues.writeback.getJobState('hf.broken')).toBe('failed');
  });

  it('signs a browser in through a form: an HttpOnly, SameSite=Strict cookie, no token in any URL', async () => {
    const form = await request(app).get('/admin/login');
    expect(form.status).toBe(200);
    expect(form.text).toContain('<form class="login" method="post" action="/admin/login">');
    expect((await request(app).get('/admin/static/dashboard.css')).status).toBe(200);

    const wrong = await request(app).post('/admin/login').type('form').send({ token: 'nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const login = await request(app).post('/admin/login').type('form').send({ token: TOKEN });
    expect([login.status, login.headers.location]).toEqual([303, '/admin/']);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^leadflow_admin=\d+\.[\w-]+;/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\/admin/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;

    const page = await request(app).get('/admin/').set('cookie', cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<script type="module" src="/admin/static/dashboard.js"></script>');
    expect(page.text).not.toContain('token=');
    expect(page.text.match(/<script/g)).toHaveLength(1);
    expect((await request(app).get('/admin/api/overview').set('cookie', cookie)).status).toBe(200);
    expect((await request(app).get('/admin/static/../admin.ts').set('cookie', cookie)).status).toBe(404);
    // A change with the cookie alone could come from any same-site form: it needs the page's header.
    const replay = '/admin/api/dead-letters/writeback/missing/replay';
    expect((await request(app).post(replay).set('cookie', cookie)).status).toBe(403);
    expect(
      (await request(app).post(replay).set('cookie', cookie).set('x-leadflow-dashboard', '1')).status,
    ).toBe(404);
    for (const forged of ['leadflow_admin=1.forged', `leadflow_admin=${TOKEN}`])
      expect((await request(app).get('/admin/api/overview').set('cookie', forged)).status).toBe(401);
  });

  it('serves Bull Board at /admin/queues behind the same sign-in', async () => {
    expect((await request(app).get('/admin/queues')).status).toBe(401);
    expect((await request(app).get('/admin/queues/api/queues')).status).toBe(401);
    expect((await request(app).get('/admin/queues').set('authorization', 'Bearer nope')).status).toBe(401);
    const board = await request(app).get('/admin/queues').set(auth);
    expect(board.status).toBe(200);
    expect(board.text).toContain('<base href="/admin/queues/"');
    const api = await request(app).get('/admin/queues/api/queues').set(auth);
    expect(api.status).toBe(200);
    expect((api.body as { queues: { name: string }[] }).queues.map((q) => q.name).sort()).toEqual([
      'followup',
      'ingest',
      'poll',
      'score',
      'writeback',
    ]);

    // Signed in by cookie, a change counts when the browser says it comes from this origin.
    const login = await request(app).post('/admin/login').type('form').send({ token: TOKEN });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const pause = '/admin/queues/api/queues/poll/pause';
    expect((await request(app).put(pause).set('cookie', cookie)).status).toBe(403);
    expect(
      (await request(app).put(pause).set('cookie', cookie).set('sec-fetch-site', 'same-site')).status,
    ).toBe(403);
    expect(await queues.poll.isPaused()).toBe(false);
    const paused = await request(app).put(pause).set('cookie', cookie).set('sec-fetch-site', 'same-origin');
    expect(paused.status).toBe(200);
    expect(await queues.poll.isPaused()).toBe(true);
    await queues.poll.resume();
  });

  it('ends a session after 12 hours', async () => {
    let clock = Date.UTC(2026, 0, 1);
    const timed = express().use(
      '/admin',
      createAdminRouter({ adminToken: TOKEN, redis, queues, config: testConfig(prefix), now: () => clock }),
    );
    const login = await request(timed).post('/admin/login').type('form').send({ token: TOKEN });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    clock += 12 * 3_600_000;
    expect((await request(timed).get('/admin/api/overview').set('cookie', cookie)).status).toBe(200);
    clock += 1;
    expect((await request(timed).get('/admin/api/overview').set('cookie', cookie)).status).toBe(401);
  });

  it('sends CSP without inline script, no framing, no referrer and nosniff on every response', async () => {
    for (const res of [
      await request(app).get('/admin/login'),
      await request(app).get('/admin/api/overview').set(auth),
      await request(app).get('/admin/static/dashboard.js'),
      await request(app).get('/admin/api/overview'),
    ]) {
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )frame-ancestors 'none'(;|$)/);
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('counts both lanes of a queue as waiting: urgent (wait list) and routine (prioritized)', async () => {
    const lead = (id: string) => ({ crm: 'hubspot', objectType: 'contact', id }) as const;
    await enqueueScore(queues, lead('701'), { debounceMs: 0, urgent: false });
    await enqueueScore(queues, lead('702'), { debounceMs: 0, urgent: true });
    const res = await request(app).get('/admin/api/overview').set(auth);
    expect((res.body as { queues: Record<string, { waiting: number }> }).queues.score?.waiting).toBe(2);
    await queues.score.obliterate({ force: true });
  });

  it('summarizes queues, handoffs, speed to lead and scores', async () => {
    const res = await request(app).get('/admin/api/overview').set(auth);
    expect(res.status).toBe(200);
    const body = res.body as {
      queues: Record<string, { failed: number }>;
      headline: unknown;
      handoffs: {
        name: string | null;
        company: string | null;
        ownerName: string | null;
        recordUrl: string | null;
        lead: string;
        trigger: string;
        owner: string | null;
        speedToLeadMs: number;
        topReasons: string[];
      }[];
      speedToLead: { p50: number; samples: number; buckets: { label: string; count: number }[] };
      scoreDistribution: { band: string; leads: number }[];
    };
    expect(body.queues.writeback?.failed).toBe(1);
    expect(body.handoffs.map((h) => [h.lead, h.trigger, h.owner, h.speedToLeadMs])).toEqual([
      ['hubspot.contact.502', 'threshold', null, 45_000],
      ['hubspot.contact.501', 'threshold', '102', 2_300],
      ['hubspot.contact.500', 'hand_raise', '101', 420],
    ]);
    // Names instead of ids: the lead's (else the email) and company from its profile, the rep's from routing.reps.
    expect(body.handoffs.map((h) => [h.name, h.company, h.ownerName, h.recordUrl])).toEqual([
      ['ops@globex.example', null, null, null],
      [
        'Bobby <b>Tables</b> Drop',
        '<img src=x onerror="document.body.dataset.xss=1">Evil Corp',
        'Ben Okafor',
        'https://crm.example/contact/501',
      ],
      ['Grace Kim', 'Initech', 'Ana Ruiz', 'https://crm.example/contact/500'],
    ]);
    // Three handoffs today, median 2.3 s; Ana acted in time, Ben let 501 lapse and nobody has acted since.
    expect(body.headline).toEqual({
      handoffsToday: 3,
      medianSpeedToLeadMs: 2_300,
      slaMetPct: 50,
      openBreaches: 1,
    });
    // Newest first.
    expect(body.handoffs[2]?.topReasons[0]).toBe(
      'Job title "VP Marketing" matches title-decision-maker (+20)',
    );
    expect(body.speedToLead).toMatchObject({ p50: 2_300, samples: 3 });
    expect(body.speedToLead.buckets.map((b) => b.count)).toEqual([1, 1, 1, 0, 0, 0]);
    expect(body.scoreDistribution).toEqual([
      { band: '0–19', leads: 1 },
      { band: '20–39', leads: 0 },
      { band: '40–59', leads: 2 },
      { band: '60–79', leads: 1 },
      { band: '80–100', leads: 1 },
    ]);
  });

  it("finds leads by name, email, company or key, and tells one lead's whole story", async () => {
    const find = async (q: string) =>
      ((await request(app).get('/admin/api/leads').query({ q }).set(auth)).body as { lead: string }[]).map(
        (l) => l.lead,
      );
    expect(await find('grace')).toEqual(['hubspot.contact.500']);
    expect(await find('GLOBEX')).toEqual(['hubspot.contact.502']);
    expect(await find('evil corp')).toEqual(['hubspot.contact.501']);
    expect(await find('hubspot.contact.50')).toEqual([
      'hubspot.contact.500',
      'hubspot.contact.501',
      'hubspot.contact.502',
      'hubspot.contact.503',
      'hubspot.contact.504',
    ]);
    expect(await find('nobody')).toEqual([]);
    expect(
      (
        await request(app)
          .get('/admin/api/leads')
          .query({ q: 'x'.repeat(201) })
          .set(auth)
      ).status,
    ).toBe(400);

    const res = await request(app).get('/admin/api/leads/hubspot.contact.500').set(auth);
    expect(res.status).toBe(200);
    const story = res.body as LeadStory;
    expect(story).toMatchObject({
      name: 'Grace Kim',
      company: 'Initech',
      title: 'VP Marketing',
      recordUrl: 'https://crm.example/contact/500',
      stage: 'mql',
      score: 92,
      fit: 30,
      engagement: 62,
      events: [{ type: 'demo_request', source: 'webhook' }],
      handoff: {
        trigger: 'hand_raise',
        ownerName: 'Ana Ruiz',
        rule: 'north-america',
        strategy: 'round_robin',
        passedOver: [{ rep: 'Ben Okafor', rule: 'north-america', why: 'at capacity' }],
        sla: { state: 'acted', actedWhat: 'call logged', actedAt: NOW - 30_000, breaches: 0 },
      },
      disposition: null,
    });
    expect(story.breakdown.map((l) => l.ruleId)).toContain('r');
    // The writeback entry names only its handoff: the lead is read from the handoff id.
    expect(story.audit.map((e) => e.type)).toEqual(['rep_action', 'writeback', 'handoff']);
    const ben = (await request(app).get('/admin/api/leads/hubspot.contact.501').set(auth)).body as LeadStory;
    expect(ben.handoff?.sla).toMatchObject({ state: 'breached', breaches: 1 });
    expect((await request(app).get('/admin/api/leads/hubspot.contact.999').set(auth)).status).toBe(404);
    expect((await request(app).get('/admin/api/leads/crm.contact.1').set(auth)).status).toBe(400);
    expect((await request(app).get('/admin/api/leads/hubspot.contact.500')).status).toBe(401);
  });

  it('lists, replays and deletes dead letters, validating parameters', async () => {
    const list = await request(app).get('/admin/api/dead-letters').set(auth);
    expect(list.body).toMatchObject([
      {
        queue: 'writeback',
        id: 'hf.broken',
        failedReason: 'hubspot 400 VALIDATION_ERROR: Property "leadflow_score" does not exist',
      },
    ]);
    expect((await request(app).post('/admin/api/dead-letters/nope/hf.broken/replay').set(auth)).status).toBe(
      400,
    );
    expect(
      (await request(app).post('/admin/api/dead-letters/writeback/missing/replay').set(auth)).status,
    ).toBe(404);
    expect(
      (await request(app).post('/admin/api/dead-letters/writeback/hf.broken/replay').set(auth)).status,
    ).toBe(202);
    expect(await queues.writeback.getJobState('hf.broken')).toBe('waiting');
    expect((await request(app).delete('/admin/api/dead-letters/writeback/hf.broken').set(auth)).status).toBe(
      404,
    );
  });

  it('reports from the audit log, by rep and by score band', async () => {
    const res = await request(app).get('/admin/api/report?days=7').set(auth);
    expect(res.status).toBe(200);
    const body = res.body as Report;
    expect(body.handoffs).toBe(3);
    expect(body.speedToLead).toMatchObject({ p50: 2_300, samples: 3 });
    expect(body.perRep.filter((r) => r.handoffs > 0).map((r) => [r.owner, r.handoffs])).toEqual([
      ['Ana Ruiz', 1],
      ['Ben Okafor', 1],
      ['unassigned', 1],
    ]);
    expect(body.byScoreBand.find((b) => b.band === '80–100')?.handoffs).toBe(1);
    expect((await request(app).get('/admin/api/report?days=soon').set(auth)).status).toBe(400);
    expect((await request(app).get('/admin/api/report')).status).toBe(401);
  });
});

describe('summarizeSpeed', () => {
  it('buckets and takes nearest-rank percentiles', () => {
    const s = summarizeSpeed([100, 200, 300, 400, 500, 600, 700, 800, 900, 10_000]);
    expect(s).toMatchObject({ p50: 500, p90: 900, p95: 10_000, samples: 10 });
    expect(s.buckets.map((b) => b.count)).toEqual([9, 0, 1, 0, 0, 0]);
    expect(summarizeSpeed([])).toMatchObject({ p50: null, p95: null, samples: 0 });
  });
});
