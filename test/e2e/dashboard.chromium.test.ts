import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import express from 'express';
import type { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOfDay } from '../../src/domain/time.js';
import { createAdminRouter } from '../../src/http/admin.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { failWritebacks, seedAdminData } from '../helpers/admin-fixture.js';
import { testConfig } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'dashboard-token-0123456789';
// Midday in the team's time zone, so the fixture's handoffs are all today's.
const NOW = startOfDay('America/New_York', Date.now()) + 12 * 3_600_000;
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(
    `dashboard test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
  );

/** The dashboard as an admin sees it, in headless Chromium. */
describe.skipIf(!hasChromium)('admin dashboard in Chromium', () => {
  const prefix = uniquePrefix('dashboard');
  let redis: Redis;
  let queues: Queues;
  let server: Server;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    redis = testRedis();
    queues = openQueues(redis, prefix, (err) => {
      throw err;
    });
    await seedAdminData(redis, queues, prefix, NOW);
    const app = express().use(
      '/admin',
      createAdminRouter({
        adminToken: TOKEN,
        redis,
        queues,
        config: testConfig(prefix),
        now: () => NOW,
        recordUrl: (lead) => Promise.resolve(`https://crm.example/contact/${lead.id}`),
      }),
    );
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    await closeQueues(queues);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('shows SLA per rep and round-robin fairness; deletes a dead letter with feedback', async () => {
    await failWritebacks(redis, queues, prefix, ['hf.gone'], 'hubspot 400 INVALID_OWNER', 2);
    const page = await signedIn(1440);
    // 7 days: Ana acted on 500 in time, Ben let 501 lapse; shares against weights 2:1:1:1.
    expect(await page.locator('#sla-reps tbody').innerText()).toMatch(
      /Ana Ruiz\s+1\s+1\s+0\s+100%\s+2 min[\s\S]*Ben Okafor\s+1\s+0\s+1\s+0%\s+—/,
    );
    const fairness = await page.locator('#fairness tbody').innerText();
    expect(fairness).toMatch(/Ana Ruiz\s+1\s+33\.3%\s+40%\s+-6\.7 pts/);
    expect(fairness).toMatch(/Chloé Martin\s+0\s+0%\s+20%\s+-20 pts/);
    expect(fairness).toMatch(/unassigned\s+1\s+33\.3%\s+—\s+—/);

    const row = page.locator('#dead-letters tbody tr[data-job="writeback/hf.gone"]');
    await row.locator('summary').click();
    expect(await row.locator('pre').innerText()).toContain('"handoffId": "hf.gone"');
    expect(await row.innerText()).toContain('handoff · 1 attempt');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete writeback job hf.gone' }).click();
    await page.waitForSelector('#dlq-feedback:has-text("Deleted writeback job hf.gone.")');
    await page.waitForSelector('#dead-letters tbody tr[data-job="writeback/hf.gone"]', { state: 'detached' });
    expect(await queues.writeback.getJob('hf.gone')).toBeUndefined();
    expect(await queues.writeback.getJobState('hf.broken')).toBe('failed');
    await page.close();
  }, 60_000);

  it('shows queues, handoffs with reasons, charts and dead letters; replays one; looks right', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(base)) external.push(req.url());
    });
    const refused: string[] = [];
    page.on('console', (msg) => {
      if (/content security policy/i.test(msg.text())) refused.push(msg.text());
    });
    // Signed out, the page sends the browser to the sign-in form; the token never enters a URL.
    await page.goto(`${base}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('p.error:has-text("not the admin token")');
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    expect(new URL(page.url()).pathname).toBe('/admin/');
    const [session] = await page.context().cookies();
    expect(session).toMatchObject({ name: 'leadflow_admin', httpOnly: true, sameSite: 'Strict' });

    const handoffs = await page.locator('#handoffs tbody').innerText();
    expect(handoffs).toMatch(/Grace Kim\s+CRM ↗\s+Initech/);
    expect(handoffs).toContain('Ana Ruiz');
    // CRM-sourced markup is shown as text, never run.
    expect(handoffs).toContain('Bobby <b>Tables</b> Drop');
    expect(handoffs).toContain('<img src=x onerror="document.body.dataset.xss=1">Evil Corp');
    expect(await page.locator('#handoffs tbody img, #handoffs tbody b').count()).toBe(0);
    expect(await page.locator('body').getAttribute('data-xss')).toBeNull();
    expect(await page.locator('#handoffs a.crm').first().getAttribute('href')).toBe(
      'https://crm.example/contact/502',
    );
    expect(await page.locator('#headline').innerText()).toMatch(
      /Handoffs today\s+3\s+Median speed to lead\s+2\.3 s\s+SLA met\s+50%\s+Open SLA breaches\s+1/,
    );
    expect(handoffs).toContain('Job title "VP Marketing" matches title-decision-maker (+20)');
    expect(handoffs).toContain('hand-raise');
    expect(handoffs).toContain('420 ms');
    expect(await page.locator('#queues').innerText()).toMatch(/writeback[\s\S]*failed\s*1/i);
    expect(await page.locator('#speed-summary').innerText()).toBe(
      'median 2.3 s · p95 45.0 s · last 3 handoffs',
    );
    expect(await page.locator('#score-chart svg rect').count()).toBe(5);

    const row = page.locator('#dead-letters tbody tr[data-job="writeback/hf.broken"]');
    expect(await row.innerText()).toContain('Property "leadflow_score" does not exist');

    mkdirSync('test-artifacts', { recursive: true });
    const png = await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: false });
    expect(png.length).toBeGreaterThan(10_000);
    // PNG header: width and height are the IHDR's first two 4-byte fields.
    const file = readFileSync('test-artifacts/dashboard.png');
    expect([file.readUInt32BE(16), file.readUInt32BE(20)]).toEqual([1280, 1100]);

    await page.getByRole('button', { name: 'Replay writeback job hf.broken' }).click();
    await page.waitForSelector('#dead-letters tbody td.empty');
    expect(await page.locator('#dlq-feedback').innerText()).toBe(
      'Replayed writeback job hf.broken: it is queued again.',
    );
    expect(await page.locator('#dead-letters tbody').innerText()).toBe('No dead letters.');
    expect(await queues.writeback.getJobState('hf.broken')).toBe('waiting');
    expect(external).toEqual([]);
    expect(refused).toEqual([]);
  }, 60_000);

  /** A page signed in through the form, at the given width, on the dashboard once it has data. */
  async function signedIn(width: number, height = 900): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${base}/admin/login`);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    return page;
  }

  it('finds a lead and shows its story: score, events, routing with who was passed over, SLA, audit', async () => {
    const page = await signedIn(1440);
    await page.getByLabel('Name, email, company or lead key').fill('initech');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Grace Kim' }).first().waitFor();
    await page.locator('#results').getByRole('link', { name: 'Grace Kim' }).click();
    await page.waitForSelector('#lead:not([hidden]) #lead-body .panels');
    expect(await page.locator('#lead-title').innerText()).toBe('Grace Kim');
    const story = await page.locator('#lead-body').innerText();
    expect(story).toContain('VP Marketing · Initech · grace@initech.example');
    expect(story).toContain('Score 92 (fit 30, engagement 62) · MQL');
    expect(story).toContain('demo_request · webhook');
    expect(story).toContain('Owner: Ana Ruiz');
    expect(story).toContain('Rule: north-america (round_robin) — round robin in north-america');
    expect(story).toContain('Passed over Ben Okafor in north-america: at capacity');
    expect(story).toMatch(/SLA: Acted: call logged at/);
    expect(story).toMatch(/rep action[\s\S]*handoff/);
    expect(new URL(page.url()).hash).toBe('#lead=hubspot.contact.500');

    // The same page from a link, for a lead whose CRM text carries markup: shown as text.
    await page.goto(`${base}/admin/#lead=hubspot.contact.501`);
    await page.waitForSelector('#lead-title:has-text("Bobby")');
    expect(await page.locator('#lead-title').innerText()).toBe('Bobby <b>Tables</b> Drop');
    expect(await page.locator('#lead-body').innerText()).toMatch(/SLA: Breached/);
    expect(await page.locator('#lead img, #lead b').count()).toBe(0);
    expect(await page.locator('body').getAttribute('data-xss')).toBeNull();
    await page.close();
  }, 60_000);

  /** Left edges and tops of the elements, to tell a row of cards from a stack. */
  async function boxes(page: Page, selector: string) {
    const all = await page.locator(selector).all();
    return Promise.all(all.map(async (l) => (await l.boundingBox())!));
  }

  for (const width of [390, 1440])
    it(`fits ${width} px without horizontal scrolling${width < 500 ? ', cards and rows stacked' : ''}; screenshot`, async () => {
      const page = await signedIn(width, 1100);
      await page.waitForSelector('#fairness tbody tr td[data-label]');
      const fits = () => page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth');
      expect(await fits()).toBe(true);
      const cards = await boxes(page, '#headline .card');
      expect(cards).toHaveLength(4);
      if (width < 500) {
        expect(new Set(cards.map((b) => b.x)).size).toBe(1);
        expect(cards.map((b) => b.y)).toEqual([...cards.map((b) => b.y)].sort((a, b) => a - b));
        // A table row is a card of labelled lines.
        const cells = await boxes(page, '#handoffs tbody tr:first-child td');
        expect(new Set(cells.map((b) => b.x)).size).toBe(1);
        expect(
          await page.locator('#handoffs tbody tr:first-child td').nth(1).getAttribute('data-label'),
        ).toBe('Lead');
      } else {
        expect(new Set(cards.map((b) => b.y)).size).toBe(1);
      }
      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: `test-artifacts/dashboard-${width}.png`, fullPage: true });
      await page.goto(`${base}/admin/#lead=hubspot.contact.501`);
      await page.waitForSelector('#lead-title:has-text("Bobby")');
      expect(await fits()).toBe(true);
      await page.screenshot({ path: `test-artifacts/lead-${width}.png`, fullPage: true });
      await page.close();
    }, 60_000);

  it('opens Bull Board at /admin/queues with the same session, loading nothing from elsewhere', async () => {
    const page = await signedIn(1440);
    // Its page links a web font; the board's CSP refuses it before it is fetched.
    const external: string[] = [];
    const refused: string[] = [];
    page.on('response', (res) => {
      if (!res.url().startsWith(base)) external.push(res.url());
    });
    page.on('requestfailed', (req) => {
      if (req.failure()?.errorText.includes('csp')) refused.push(req.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${base}/admin/queues`);
    for (const queue of ['ingest', 'score', 'writeback', 'followup', 'poll'])
      await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 20_000 });
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/bull-board.png' });
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    expect(refused).toEqual([expect.stringMatching(/^https:\/\/fonts\.googleapis\.com\//)]);
    await page.close();
  }, 60_000);
});
