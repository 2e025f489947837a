import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HubSpotWebhookEvent } from '../../connectors/hubspot/webhook.js';
import { EmailAlerts } from '../../src/alerts/email.js';
import { SlackAlerts } from '../../src/alerts/slack.js';
import type { AlertChannel } from '../../src/alerts/index.js';
import type { Config } from '../../src/config/schema.js';
import { hubspotIngest } from '../../src/receive/hubspot.js';
import { enqueueIngest, enqueueRepAlert } from '../../src/queue/queues.js';
import { processAlert } from '../../jobs/alert.js';
import { FakeConnector } from '../helpers/fake-connector.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import { startFakeSmtp, type FakeSmtp } from '../helpers/fake-smtp.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../sandbox/redis-server.js';

const HANDOFF = 'hf.hubspot.contact.501.0.mql';
const EMAILS: Record<string, string> = {
  '101': 'ana@sales.example',
  '102': 'ben@sales.example',
  '103': 'chloe@sales.example',
  '104': 'dieter@sales.example',
};

let seq = 0;
const demoRequest = (objectId: string): HubSpotWebhookEvent => ({
  eventId: String(++seq),
  portalId: '33',
  objectId,
  occurredAt: Date.now(),
  subscriptionType: 'contact.propertyChange',
  propertyName: 'recent_conversion_event_name',
  propertyValue: 'Request a demo',
});

describe('rep alert at handoff: Slack DM and email, once, after the CRM writes', () => {
  let redis: Redis;
  let prefix: string;
  let pipeline: Pipeline;
  let crm: FakeConnector;
  let slack: FakeSlack;
  let smtp: FakeSmtp;
  let email: EmailAlerts | undefined;

  beforeEach(async () => {
    redis = testRedis();
    prefix = uniquePrefix('alerts');
    crm = new FakeConnector();
    crm.profiles.set('hubspot.contact.501', {
      firstName: 'Grace',
      lastName: '<!channel> Kim',
      jobTitle: 'VP RevOps',
      company: 'Initech',
      email: 'grace@initech.com',
      country: 'United States',
      state: 'California',
      phone: '+1 415 555 0100',
    });
    slack = await startFakeSlack();
    smtp = await startFakeSmtp();
    for (const [, address] of Object.entries(EMAILS))
      slack.users.set(address, `U${address.length}${address[0]!.toUpperCase()}X`);
  });

  afterEach(async () => {
    await pipeline?.close();
    email?.close();
    await Promise.all([slack.close(), smtp.close()]);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  async function start(
    opts: { slackUrl?: string; repEmails?: boolean; channels?: ('slack' | 'email')[] } = {},
  ) {
    const config = testConfig(prefix, (c): Config => ({
      ...c,
      routing: {
        ...c.routing,
        reps: c.routing.reps.map((r) => (opts.repEmails === false ? r : { ...r, email: EMAILS[r.id] })),
      },
      alerts: {
        slack: { apiUrl: opts.slackUrl ?? slack.url, timeoutMs: 2_000 },
        email: { from: 'Leadflow <leadflow@example.com>', timeoutMs: 2_000 },
      },
    }));
    email = new EmailAlerts({ smtpUrl: smtp.url, from: config.alerts.email!.from, timeoutMs: 2_000 });
    const all: AlertChannel[] = [
      new SlackAlerts({ token: slack.token, apiUrl: config.alerts.slack!.apiUrl, timeoutMs: 2_000 }),
      email,
    ];
    const channels = opts.channels ?? ['slack', 'email'];
    pipeline = await startPipeline({
      redis,
      config,
      connector: crm,
      alerts: all.filter((c) => channels.includes(c.name)),
    });
    await enqueueIngest(
      pipeline.queues,
      hubspotIngest([demoRequest('501')], config.hubspot, { receivedAt: Date.now() }),
      config.handRaise,
    );
  }

  const progress = () => pipeline.ctx.handoffs.progress(HANDOFF);
  /** The alert job once BullMQ has recorded its end (our progress hash is marked just before). */
  const finishedAlert = () =>
    waitFor(async () => {
      const job = await pipeline.queues.followup.getJob(`alert.${HANDOFF}`);
      return job?.finishedOn ? job : null;
    });
  const alerts = async () =>
    (await pipeline.ctx.handoffs.recentAudit(50)).filter((a) => a.type === 'rep_alert');
  const ownerEmail = async () => EMAILS[(await pipeline.ctx.handoffs.get(HANDOFF))!.routing!.ownerId!]!;

  it('DMs the rep on Slack and emails them: the task headline, warnings first, a link to the record', async () => {
    await start();
    await waitFor(
      async () =>
        (await progress())['alert.slack']?.startsWith('sent:') &&
        (await progress())['alert.email']?.startsWith('sent:'),
      {
        what: 'both alerts sent',
      },
    );
    const record = (await pipeline.ctx.handoffs.get(HANDOFF))!;
    const owner = await ownerEmail();
    expect(slack.calls).toEqual(['users.lookupByEmail', 'conversations.open', 'chat.postMessage']);
    expect(slack.posted).toHaveLength(1);
    const { text, channel, metadata } = slack.posted[0]!;
    expect(channel).toBe(`D${slack.users.get(owner)!.slice(1)}`);
    // The same headline as the task, the lead's name escaped for mrkdwn: no <!channel> ping.
    expect(text.split('\n')[0]).toBe(`*${record.task!.subject.replace('<!channel>', '&lt;!channel&gt;')}*`);
    expect(record.task!.subject).toMatch(
      /^Call Grace &?.*Kim \(VP RevOps, Initech\) — demo request — due \S+( \S+)? their time$/,
    );
    expect(text).toContain('Phone: +1 415 555 0100');
    expect(text).toContain('Their time: ');
    expect(text).toContain('(America/Los_Angeles, from the state)');
    expect(text).not.toMatch(/<!channel>/);
    expect(text.split('\n').at(-1)).toBe('<https://crm.example/hubspot/contact/501|Open the record>');
    expect(metadata).toEqual({ event_type: 'leadflow_handoff', event_payload: { handoff_id: HANDOFF } });

    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail.subject).toBe(record.task!.subject);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : '').toBe(owner);
    expect(mail.text).toContain('Open the record: https://crm.example/hubspot/contact/501');
    expect(mail.html).toContain('<a href="https://crm.example/hubspot/contact/501">Open the record</a>');
    expect(mail.html).toContain('&lt;!channel&gt; Kim');
    expect(mail.headers.get('x-leadflow-handoff')).toBe(HANDOFF);
    expect((await alerts()).map((a) => a.detail)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ channel: 'slack', outcome: 'sent' }),
        expect.objectContaining({ channel: 'email', outcome: 'sent' }),
      ]),
    );
  });

  it('sends once: a redelivered or replayed alert job, and a second worker, send nothing more', async () => {
    await start();
    await waitFor(async () => (await progress())['alert.email']?.startsWith('sent:'), { what: 'alert sent' });
    await waitFor(async () => (await progress())['alert.slack']?.startsWith('sent:'), { what: 'alert sent' });
    // The same job again (a retry of the writeback queues it again), and the processor run directly twice at once.
    await enqueueRepAlert(pipeline.queues, HANDOFF);
    await pipeline.queues.followup.add(
      'alert',
      { kind: 'alert', handoffId: HANDOFF },
      { jobId: 'alert.again' },
    );
    await waitFor(async () => (await pipeline.queues.followup.getJob('alert.again'))?.finishedOn, {
      what: 'replayed job done',
    });
    await Promise.all([processAlert(pipeline.ctx, HANDOFF), processAlert(pipeline.ctx, HANDOFF)]);
    expect(slack.posted).toHaveLength(1);
    expect(smtp.received).toHaveLength(1);
  });

  it('a failed channel is retried with backoff; the one that went out is not sent again', async () => {
    smtp.refuseNext(451, 2);
    await start();
    await waitFor(async () => (await progress())['alert.email']?.startsWith('sent:'), {
      what: 'email after two 451s',
    });
    expect(slack.posted).toHaveLength(1);
    expect(smtp.received).toHaveLength(1);
    // BullMQ counts the finishing attempt too: two refused, the third sent.
    expect((await finishedAlert()).attemptsMade).toBe(3);
  });

  it("Slack's 429: waits its Retry-After without spending an attempt, then posts once", async () => {
    slack.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await start({ channels: ['slack'] });
    const started = Date.now();
    await waitFor(async () => (await progress())['alert.slack']?.startsWith('sent:'), {
      what: 'posted after the wait',
      timeoutMs: 15_000,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(slack.posted).toHaveLength(1);
    expect(slack.calls.filter((c) => c === 'chat.postMessage')).toHaveLength(2);
    expect((await finishedAlert()).attemptsMade).toBe(1);
  });

  it('no Slack user for the email (users_not_found): given up on, said why; the email still goes', async () => {
    slack.users.clear();
    await start();
    await waitFor(async () => (await progress())['alert.email']?.startsWith('sent:'), { what: 'email sent' });
    await waitFor(async () => (await progress())['alert.slack'], { what: 'slack settled' });
    expect((await progress())['alert.slack']).toBe('failed:Slack: users_not_found');
    expect(slack.calls).toEqual(['users.lookupByEmail']);
    expect((await alerts()).find((a) => a.detail.channel === 'slack')?.detail).toMatchObject({
      outcome: 'failed',
      why: 'Slack: users_not_found',
    });
    const sent = await pipeline.metrics.repAlerts.get();
    expect(sent.values).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { channel: 'slack', outcome: 'failed' }, value: 1 }),
        expect.objectContaining({ labels: { channel: 'email', outcome: 'sent' }, value: 1 }),
      ]),
    );
  });

  it('an answer lost after Slack took the message is not posted again (it may be there already)', async () => {
    slack.failNext('chat.postMessage', { drop: true });
    await start({ channels: ['slack'] });
    await waitFor(async () => (await progress())['alert.slack'], { what: 'slack settled' });
    await waitFor(async () => (await progress())['alert.slack'] !== 'sending', { what: 'slack settled' });
    expect((await progress())['alert.slack']).toBe('uncertain');
    expect(slack.posted).toHaveLength(1);
  });

  it('never holds up the CRM writes: with Slack unreachable the handoff completes, the alert retries on its own', async () => {
    await start({ slackUrl: `http://127.0.0.1:${await freePort()}/api/`, channels: ['slack'] });
    await waitFor(async () => (await progress()).completedAt, { what: 'handoff complete' });
    expect(crm.tasks).toHaveLength(1);
    expect(crm.notes).toHaveLength(1);
    await waitFor(
      async () => ((await pipeline.queues.followup.getJob(`alert.${HANDOFF}`))?.attemptsMade ?? 0) >= 2,
      {
        what: 'alert retried',
      },
    );
    expect((await progress())['alert.slack']).toBeUndefined();
  });

  it("without a rep email in the config, the CRM owner's email is used", async () => {
    crm.ownerList = crm.ownerList.map((o) => ({ ...o, email: EMAILS[o.id] }));
    await start({ repEmails: false, channels: ['email'] });
    await waitFor(async () => (await progress())['alert.email']?.startsWith('sent:'), { what: 'email sent' });
    const mail = smtp.received[0]!;
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : '').toBe(await ownerEmail());
  });
});
