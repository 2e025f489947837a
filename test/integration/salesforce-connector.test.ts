import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isCrmError } from '../../connectors/errors.js';
import type { SalesforceAuth } from '../../connectors/salesforce/auth.js';
import { checkSalesforceConfig } from '../../connectors/salesforce/check.js';
import { createSalesforceConnector } from '../../connectors/salesforce/index.js';
import type { HandoffWrite } from '../../connectors/types.js';
import { Config, Salesforce } from '../../src/config/schema.js';
import type { LeadRef } from '../../src/domain/index.js';
import { classifyFailure } from '../../src/queue/retry.js';
import { createLogger } from '../../src/logger.js';
import { ApiUsage } from '../../src/store/api-usage.js';
import { keys } from '../../src/store/keys.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import {
  ADMIN_USER_ID,
  DEFAULT_API_VERSION,
  INACTIVE_USER_ID,
  REP_USER_ID,
  type SalesforceState,
} from '../sandbox/salesforce.js';
import { testScore } from '../helpers/score.js';
import { config, handoffWrite, seedLead, tasksOf } from '../helpers/salesforce-seed.js';

const fields = config.fields;

describe('Salesforce connector against the sandbox', () => {
  let sandbox: Sandbox;
  let state: SalesforceState;
  const connect = (settings: Record<string, unknown> = {}, auth?: SalesforceAuth) =>
    createSalesforceConnector({
      instanceUrl: sandbox.url,
      loginUrl: sandbox.url,
      auth: auth ?? { kind: 'access_token', accessToken: 'tok-sandbox' },
      config: Salesforce.parse(settings),
    });
  const handoff = (ref: LeadRef, over: Partial<HandoffWrite> = {}) => handoffWrite(ref, 'hf.sb.1', over);

  beforeAll(async () => {
    sandbox = await startSandbox();
    state = sandbox.salesforce;
  });
  beforeEach(() => sandbox.reset());
  afterAll(() => sandbox.close());

  it('writes a handoff in exactly ONE request: stage, owner, scores and the rep task', async () => {
    const ref = seedLead(state, { email: 'ada@x.io' });
    const written = await connect().writeHandoff(handoff(ref));

    // One request in all (the sandbox records paths below the /services/data mount).
    expect(sandbox.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      expect.stringMatching(new RegExp(`^POST (/services/data)?/v${DEFAULT_API_VERSION}/composite$`)),
    ]);
    expect(state.get('Lead', ref.id)).toMatchObject({
      Status: 'Marketing Qualified',
      OwnerId: REP_USER_ID,
      Leadflow_Score__c: 64,
    });
    const [task] = tasksOf(state, ref);
    expect(task).toMatchObject({
      Id: written.task?.id,
      OwnerId: REP_USER_ID,
      ActivityDate: '2030-01-07',
      Status: 'Not Started',
      Priority: 'High',
      TaskSubtype: 'Call',
      Description: 'Why now: pricing ×3\nHandoff ID: hf.sb.1',
    });
    expect(written).toEqual({
      stage: 'Marketing Qualified',
      advanced: true,
      note: { id: task!.Id, created: true },
      task: { id: task!.Id, created: true },
    });
  });

  it('keeps our owner against assignment rules, and lets them run when routing is delegated', async () => {
    state.assignmentRuleOwner = ADMIN_USER_ID;
    const ours = seedLead(state, { email: 'a@x.io' });
    await connect().writeHandoff(handoff(ours));
    expect(state.get('Lead', ours.id)?.OwnerId).toBe(REP_USER_ID);

    const theirs = seedLead(state, { email: 'b@x.io' });
    state.update('Lead', theirs.id, { OwnerId: REP_USER_ID });
    await connect({ routing: 'assignment_rules' }).writeHandoff(handoff(theirs, { handoffId: 'hf.sb.2' }));
    expect(state.get('Lead', theirs.id)).toMatchObject({
      OwnerId: ADMIN_USER_ID,
      Status: 'Marketing Qualified',
    });
  });

  it('sends Sforce-Auto-Assign FALSE on Task writes too, so a Task trigger touching the Lead keeps our owner', async () => {
    state.assignmentRuleOwner = ADMIN_USER_ID;
    state.taskTriggerUpdatesLead = true;
    const ref = seedLead(state, { email: 'trigger@x.io' });
    const c = connect();
    const { task } = await c.writeHandoff(handoff(ref));
    await c.createRepTask(ref, 'hf.sb.1.escalation.0', { ...handoff(ref).task!, body: 'Escalation' }, false);
    await c.createHandoffNote(ref, 'hf.sb.9', 'Note\nHandoff ID: hf.sb.9', false);
    await c.reassign(ref, REP_USER_ID, task!.id);
    expect(state.get('Lead', ref.id)?.OwnerId).toBe(REP_USER_ID);
    const taskSaves = state.saves.filter((w) => w.sObject === 'Task');
    expect(taskSaves).toHaveLength(4);
    expect(taskSaves.every((w) => !w.autoAssign)).toBe(true);

    // Delegated routing: the org's rules decide, also through the Task trigger.
    const theirs = seedLead(state, { email: 'delegated@x.io' });
    await connect({ routing: 'assignment_rules' }).createHandoffNote(
      theirs,
      'hf.sb.3',
      'Note\nHandoff ID: hf.sb.3',
      false,
    );
    expect(state.get('Lead', theirs.id)?.OwnerId).toBe(ADMIN_USER_ID);
    expect(state.saves.at(-1)).toMatchObject({ sObject: 'Task', autoAssign: true });
  });

  it('hands a lead sales already converted to its Contact: scores and a closed note, its owner and stage untouched', async () => {
    const ref = seedLead(state, { email: 'converted@x.io' });
    state.update('Lead', ref.id, { OwnerId: ADMIN_USER_ID });
    const contactId = state.convertLead(ref.id);
    const lead = state.get('Lead', ref.id);

    const written = await connect().writeHandoff(handoff(ref, { knownStage: undefined }));
    const contact: LeadRef = { crm: 'salesforce', objectType: 'contact', id: contactId };
    expect(written).toMatchObject({ stage: 'Closed - Converted', task: null, convertedTo: contact });
    expect(state.get('Lead', ref.id)).toEqual(lead);
    const after = state.get('Contact', contactId);
    expect(after).toMatchObject({ OwnerId: ADMIN_USER_ID, Leadflow_Score__c: 64 });
    expect(after?.Leadflow_Lifecycle_Stage__c ?? null).toBeNull();
    expect(state.get('Task', written.note.id)).toMatchObject({
      WhoId: contactId,
      IsClosed: true,
      Subject: 'Call Ada (MQL, score 64)',
    });
    // Any other failure of a converted lead's write is still that failure.
    state.faults.lockRow = 1;
    const locked: unknown = await connect()
      .writeHandoff(handoff(seedLead(state, { email: 'locked@x.io' })))
      .catch((e: unknown) => e);
    expect(isCrmError(locked) && locked.failure.code).toBe('UNABLE_TO_LOCK_ROW');
  });

  it("writes a converted lead's scores to its Contact instead of failing the batch record", async () => {
    const open = seedLead(state, { email: 'open@x.io' });
    const gone = seedLead(state, { email: 'gone@x.io' });
    const contactId = state.convertLead(gone.id);
    const failures = await connect().writeScores([
      { lead: open, score: testScore(41) },
      { lead: gone, score: testScore(77) },
    ]);
    expect(failures).toEqual([]);
    expect(state.get('Lead', open.id)?.Leadflow_Score__c).toBe(41);
    expect(state.get('Contact', contactId)?.Leadflow_Score__c).toBe(77);
  });

  it('rolls the whole handoff back on a row lock (also wrapped by a trigger) and classifies it backoff', async () => {
    for (const fault of ['lockRow', 'wrappedLockRow'] as const) {
      const ref = seedLead(state, { email: `${fault}@x.io` });
      state.faults[fault] = 1;
      const err: unknown = await connect()
        .writeHandoff(handoff(ref))
        .catch((e: unknown) => e);
      expect(isCrmError(err) && err.failure.code).toBe('UNABLE_TO_LOCK_ROW');
      expect(isCrmError(err) && classifyFailure(err.failure, Date.now()).action).toBe('backoff');
      expect(state.get('Lead', ref.id)?.Status).toBe(fields.stages.open[0]);
      expect(tasksOf(state, ref)).toEqual([]);
    }
  });

  it('does not create a second task when a retried handoff finds the first by its marker', async () => {
    const ref = seedLead(state, { email: 'lost@x.io' });
    sandbox.setFaults({
      loseResponse: { method: 'POST', path: `/services/data/v${DEFAULT_API_VERSION}/composite`, count: 1 },
    });
    const lost: unknown = await connect()
      .writeHandoff(handoff(ref))
      .catch((e: unknown) => e);
    expect(isCrmError(lost) && lost.failure.network).toBe(true);
    const retried = await connect().writeHandoff(handoff(ref, { mayExist: true }));
    expect(retried.task?.created).toBe(false);
    expect(tasksOf(state, ref)).toHaveLength(1);
  });

  it('pauses on REQUEST_LIMIT_EXCEEDED and records Sforce-Limit-Info usage', async () => {
    const redis = testRedis();
    const prefix = uniquePrefix('sf-conf-usage');
    try {
      const usage = new ApiUsage(redis, keys(prefix), 'salesforce');
      const c = createSalesforceConnector({
        instanceUrl: sandbox.url,
        loginUrl: sandbox.url,
        auth: { kind: 'access_token', accessToken: 'tok' },
        config,
        usage,
      });
      state.apiUsage = { used: 1200, max: 15_000 };
      await c.owners();
      expect(await usage.get()).toMatchObject({ used: 1201, max: 15_000 });

      state.faults.requestLimitExceeded = 1;
      const err: unknown = await c
        .readProfile(seedLead(state, { email: 'limit@x.io' }))
        .catch((e: unknown) => e);
      expect(isCrmError(err) && classifyFailure(err.failure, Date.now())).toMatchObject({ action: 'pause' });
    } finally {
      await cleanPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('refreshes a revoked token once with the refresh token grant', async () => {
    state.oauth = { clientId: 'cid', clientSecret: 'secret', refreshToken: 'rt-1' };
    state.revokeToken('tok-old');
    const c = connect(
      {},
      {
        kind: 'refresh_token',
        clientId: 'cid',
        clientSecret: 'secret',
        refreshToken: 'rt-1',
        accessToken: 'tok-old',
      },
    );
    let refreshed = 0;
    c.onRefresh(() => refreshed++);
    const ref = seedLead(state, { email: 'rt@x.io' });
    expect(await c.readProfile(ref)).toMatchObject({ email: 'rt@x.io' });
    expect([state.refreshes, refreshed]).toEqual([1, 1]);
  });

  it('never puts a token or secret in a log line or an error, also when a refresh fails', async () => {
    state.oauth = { clientId: 'cid', clientSecret: 'app-secret-xyz', refreshToken: 'rt-secret-1' };
    state.revokeToken('tok-old-secret');
    const lines: string[] = [];
    const logger = createLogger(
      'trace',
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const withSecrets = () =>
      createSalesforceConnector({
        instanceUrl: sandbox.url,
        loginUrl: sandbox.url,
        auth: {
          kind: 'refresh_token',
          clientId: 'cid',
          clientSecret: 'app-secret-xyz',
          refreshToken: 'rt-secret-1',
          accessToken: 'tok-old-secret',
        },
        config,
        logger,
      });
    const ref = seedLead(state, { email: 'log@x.io' });
    const c = withSecrets();
    await c.readProfile(ref);
    expect(lines.join('')).toContain('Salesforce access token refreshed');
    // The org refuses the fresh session too: our guard stops a refresh loop.
    state.faults.invalidSession = 5;
    const refused = await c.readProfile(ref).catch((e: unknown) => e as Error);
    // The refresh token was rotated away: the token grant itself fails.
    state.faults.invalidSession = 0;
    state.oauth = { ...state.oauth, refreshToken: 'rt-rotated' };
    const grantFailed = await withSecrets()
      .readProfile(ref)
      .catch((e: unknown) => e as Error);
    expect(isCrmError(refused) && isCrmError(grantFailed)).toBe(true);
    expect(grantFailed.message).toMatch(/refresh/i);
    const seen = [...lines, ...[refused, grantFailed].flatMap((e) => [e.message, JSON.stringify(e)])].join(
      '\n',
    );
    for (const secret of ['tok-old-secret', 'rt-secret-1', 'app-secret-xyz', '!AQ'])
      expect(seen).not.toContain(secret);
  });

  it('mints tokens with a JWT bearer assertion the org verifies', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    state.oauth = {
      clientId: 'cid',
      clientSecret: 'secret',
      username: 'integration@acme.test',
      jwtPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
    const c = connect(
      {},
      {
        kind: 'jwt_bearer',
        clientId: 'cid',
        username: 'integration@acme.test',
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
    );
    expect((await c.owners()).length).toBeGreaterThan(0);
    expect(state.refreshes).toBe(1);
  });

  it("sees a rep's own Task or Event, or a status moved on, as activity; our own tasks are not", async () => {
    const c = connect();
    const since = Date.now() - 1_000;
    const ref = seedLead(state, { email: 'act@x.io' });
    const { task } = await c.writeHandoff(handoff(ref));
    await c.createRepTask(ref, 'hf.sb.1.escalation.0', { ...handoff(ref).task!, body: 'Escalation' }, false);
    expect(await c.repActivity(ref, since, task!.id)).toBeNull();

    state.insert('Event', { WhoId: ref.id, Subject: 'Meeting', OwnerId: REP_USER_ID });
    expect((await c.repActivity(ref, since, task!.id))?.what).toBe('event logged');

    const other = seedLead(state, { email: 'status@x.io' });
    await c.advanceStage(other, 'mql', undefined, REP_USER_ID);
    expect(await c.repActivity(other, since, null)).toBeNull();
    state.update('Lead', other.id, { Status: 'Working - Contacted' });
    expect((await c.repActivity(other, since, null))?.what).toBe('Status Working - Contacted');
  });

  it('matches by email (escaped), prefers an unconverted Lead, and creates one with placeholders', async () => {
    const c = connect();
    const email = "o'brien\\@x.io";
    const contact = state.insert('Contact', { LastName: "O'Brien", Email: email });
    expect(await c.matchLead({ email }, false)).toEqual({
      crm: 'salesforce',
      objectType: 'contact',
      id: contact,
    });
    const ref = seedLead(state, { email });
    expect(await c.matchLead({ email: ` ${email.toUpperCase()} ` }, false)).toEqual(ref);

    const created = await c.matchLead({ email: 'new@x.io', firstName: 'Nia', ownerId: ADMIN_USER_ID }, true);
    expect(created?.objectType).toBe('lead');
    expect(state.get('Lead', created!.id)).toMatchObject({
      Email: 'new@x.io',
      FirstName: 'Nia',
      LastName: '[not provided]',
      Company: '[not provided]',
    });
  });

  it('pages SOQL results through nextRecordsUrl and lists leads then contacts by cursor', async () => {
    for (let i = 0; i < 2_100; i++) state.insert('Campaign', { Name: `Campaign ${i}` });
    const c = connect();
    const pages: number[] = [];
    for await (const rows of c.soql('SELECT Id FROM Campaign')) pages.push(rows.length);
    expect(pages).toEqual([2_000, 100]);

    const leads = [seedLead(state, { email: 'l1@x.io' }), seedLead(state, { email: 'l2@x.io' })];
    const contact = state.insert('Contact', { LastName: 'C', Email: 'c1@x.io' });
    const first = await c.listLeads(undefined, 2);
    expect(first.leads.map((l) => l.lead)).toEqual(leads);
    const second = await c.listLeads(first.next, 2);
    expect(second.leads.map((l) => [l.lead.objectType, l.lead.id, l.profile.email])).toEqual([
      ['contact', contact, 'c1@x.io'],
    ]);
    expect(second.next).toBeUndefined();
  });

  it('config check: notes need a closed Task status (the org may add its own), rep tasks an open one', async () => {
    const base = {
      scoring: {},
      thresholds: { mql: 50, sql: 80 },
      routing: { reps: [{ id: REP_USER_ID, name: 'Ben' }] },
    };
    const statusLines = async (salesforce: Record<string, unknown>) =>
      (await checkSalesforceConfig(connect(), Config.parse({ ...base, salesforce })))
        .filter((l) => /^salesforce\.(note|task)Status/.test(l.what))
        .map((l) => `${l.level} ${l.what}`);

    expect(await statusLines({})).toEqual([
      'ok salesforce.taskStatus',
      'ok salesforce.noteStatus',
      'ok salesforce.taskStatus (open)',
      'ok salesforce.noteStatus (closed)',
    ]);
    expect(await statusLines({ noteStatus: 'In Progress', taskStatus: 'Completed' })).toEqual([
      'ok salesforce.taskStatus',
      'ok salesforce.noteStatus',
      'error salesforce.taskStatus (open)',
      'error salesforce.noteStatus (closed)',
    ]);

    // An org that closes tasks with 'Done': notes written with it are closed, and the check agrees.
    state.addTaskStatus('Done', true);
    expect(await statusLines({ noteStatus: 'Done' })).toContain('ok salesforce.noteStatus (closed)');
    const ref = seedLead(state, { email: 'done@x.io' });
    const { note } = await connect({ noteStatus: 'Done' }).writeHandoff(handoff(ref, { task: null }));
    expect(state.get('Task', note.id)).toMatchObject({ Status: 'Done', IsClosed: true });
  });

  it('reports missing fields: ensureSchema lists them, config check names the config path', async () => {
    const lead = state.describe.get('Lead')!;
    lead.fields = lead.fields.filter((f) => f.name !== 'Leadflow_Score__c');
    const status = lead.fields.find((f) => f.name === 'Status')!;
    status.picklistValues = status.picklistValues.filter((v) => v.value !== 'Sales Qualified');
    const c = connect();

    const err: unknown = await c.ensureSchema().catch((e: unknown) => e);
    expect(isCrmError(err) && err.message).toContain('Lead.Leadflow_Score__c');
    expect(isCrmError(err) && err.message).not.toContain('Contact.Leadflow_Score__c');

    const full = Config.parse({
      scoring: {},
      thresholds: { mql: 50, sql: 80 },
      dispositions: {
        statuses: ['Closed - Not Converted'],
        reasons: { Competitor: { action: 'disqualify' }, competitor_x: { action: 'disqualify' } },
      },
      routing: { reps: [{ id: REP_USER_ID, name: 'Ben' }], fallbackOwnerId: INACTIVE_USER_ID },
    });
    const lines = await checkSalesforceConfig(c, full);
    const errors = lines.filter((l) => l.level === 'error').map((l) => `${l.what}: ${l.message}`);
    expect(errors).toEqual([
      'salesforce.fields.score: Lead.Leadflow_Score__c does not exist: create it or fix the mapping',
      expect.stringMatching(
        /^salesforce\.fields\.stages\.sql \(Lead\): "Sales Qualified" is not an active Lead\.Status value/,
      ),
      `routing.fallbackOwnerId: owner ${INACTIVE_USER_ID} (fallback) is deactivated`,
    ]);
    expect(lines.find((l) => l.what === 'routing.reps[0]')?.level).toBe('ok');
    // A reason code sales cannot pick is a warning: that disposition would never run.
    expect(lines.find((l) => l.what === 'dispositions.reasons.Competitor (Lead)')?.level).toBe('ok');
    const unknown = lines.find((l) => l.what === 'dispositions.reasons.competitor_x (Lead)');
    expect(unknown?.level).toBe('warn');
    expect(unknown?.message).toContain(
      '"competitor_x" is not an active Lead.Leadflow_Disposition_Reason__c value',
    );
  });
});
