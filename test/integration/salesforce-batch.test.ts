import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isCrmError } from '../../connectors/errors.js';
import { createSalesforceConnector } from '../../connectors/salesforce/index.js';
import type { HandoffWrite, HandoffWritten } from '../../connectors/types.js';
import { Salesforce } from '../../src/config/schema.js';
import { handoffMarker, type LeadRef } from '../../src/domain/index.js';
import { classifyFailure } from '../../src/queue/retry.js';
import { config, handoffWrite, seedLead, tasksOf } from '../helpers/salesforce-seed.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import {
  ADMIN_USER_ID,
  DEFAULT_API_VERSION,
  REP_USER_ID,
  type SalesforceState,
} from '../sandbox/salesforce.js';

const fields = config.fields;
const GRAPH_PATH = `/services/data/v${DEFAULT_API_VERSION}/composite/graph`;

/**
 * Handoffs of many leads at once through the real jsforce connector against the sandbox org: they
 * share requests (a Composite Graph with a graph per lead, one retrieve for their records, one
 * query for their markers), and each lead keeps what its own composite request guaranteed.
 */
describe('Salesforce handoffs of many leads share requests', () => {
  let sandbox: Sandbox;
  let state: SalesforceState;
  const connect = (settings: Record<string, unknown> = {}, batching?: boolean) =>
    createSalesforceConnector({
      instanceUrl: sandbox.url,
      loginUrl: sandbox.url,
      auth: { kind: 'access_token', accessToken: 'tok-batch' },
      config: Salesforce.parse(settings),
      ...(batching === undefined ? {} : { batching }),
    });
  const handoff = (ref: LeadRef, over: Partial<HandoffWrite> = {}) =>
    handoffWrite(ref, `hf.batch.${ref.id}`, over);
  const leads = (n: number) => Array.from({ length: n }, (_, i) => seedLead(state, { email: `b${i}@x.io` }));
  /** Each write's result, or its error: one lead's failure must not be another's. */
  const settle = (writes: Promise<HandoffWritten>[]) => Promise.allSettled(writes);
  const calls = (suffix: string, method = 'POST') =>
    sandbox.calls.filter((c) => c.method === method && c.path.endsWith(suffix)).length;
  const codeOf = (r: PromiseSettledResult<unknown>) =>
    r.status === 'rejected' && isCrmError(r.reason) ? r.reason.failure.code : undefined;
  const handedOff = (ref: LeadRef) => {
    expect(state.get('Lead', ref.id)).toMatchObject({
      Status: 'Marketing Qualified',
      OwnerId: REP_USER_ID,
      Leadflow_Score__c: 64,
    });
    const tasks = tasksOf(state, ref);
    expect(tasks).toHaveLength(1);
    expect(String(tasks[0]!.Description)).toContain(handoffMarker(`hf.batch.${ref.id}`));
    return tasks[0]!;
  };
  const untouched = (ref: LeadRef) => {
    expect(state.get('Lead', ref.id)).toMatchObject({
      Status: fields.stages.open[0],
      OwnerId: ADMIN_USER_ID,
    });
    expect(state.get('Lead', ref.id)?.Leadflow_Score__c ?? null).toBeNull();
    expect(tasksOf(state, ref)).toEqual([]);
  };

  beforeAll(async () => {
    sandbox = await startSandbox();
    state = sandbox.salesforce;
  });
  beforeEach(() => sandbox.reset());
  afterAll(() => sandbox.close());

  it('hands off 60 leads in ONE API call, each with its status, owner, scores and one rep task', async () => {
    // Assignment rules and a Task trigger touching the Lead would take our owner without the header.
    state.assignmentRuleOwner = ADMIN_USER_ID;
    state.taskTriggerUpdatesLead = true;
    const refs = leads(60);
    const before = state.apiUsage.used;
    const c = connect();
    const written = await Promise.all(refs.map((ref) => c.writeHandoff(handoff(ref))));

    expect(state.apiUsage.used - before).toBe(1);
    expect(sandbox.calls).toHaveLength(1);
    expect(calls('/composite/graph')).toBe(1);
    refs.forEach((ref, i) => {
      const task = handedOff(ref);
      expect(task).toMatchObject({ OwnerId: REP_USER_ID, ActivityDate: '2030-01-07', Status: 'Not Started' });
      expect(written[i]).toEqual({
        stage: 'Marketing Qualified',
        advanced: true,
        note: { id: task.Id, created: true },
        task: { id: task.Id, created: true },
      });
    });
    expect(state.saves.filter((s) => s.sObject === 'Task')).toHaveLength(60);
    expect(state.saves.every((s) => !s.autoAssign)).toBe(true);
  });

  it('splits a larger burst into graph requests of at most 75 leads', async () => {
    const refs = leads(100);
    const c = connect();
    await Promise.all(refs.map((ref) => c.writeHandoff(handoff(ref))));
    expect(calls('/composite/graph')).toBe(2);
    for (const ref of refs) handedOff(ref);
  });

  it('lets the org assignment rules run on Lead and Task writes when routing is delegated', async () => {
    state.assignmentRuleOwner = ADMIN_USER_ID;
    const refs = leads(3);
    const c = connect({ routing: 'assignment_rules' });
    await Promise.all(refs.map((ref) => c.writeHandoff(handoff(ref))));
    expect(calls('/composite/graph')).toBe(1);
    for (const ref of refs) expect(state.get('Lead', ref.id)).toMatchObject({ OwnerId: ADMIN_USER_ID });
    expect(state.saves.every((s) => s.autoAssign)).toBe(true);
  });

  it('fails only the lead whose record refused: a validation rule (dead letter) or a row lock (retried), nothing half-written', async () => {
    const refs = leads(6);
    state.update('Lead', refs[3]!.id, { Company: 'Blocked Inc' });
    state.validationRules.push({
      sObject: 'Lead',
      fails: (r) => r.Company === 'Blocked Inc' && r.Status === 'Marketing Qualified',
      message: 'Blocked companies cannot be qualified',
    });
    // The graph's first record write meets a row lock.
    state.faults.lockRow = 1;
    const c = connect();
    const results = await settle(refs.map((ref) => c.writeHandoff(handoff(ref))));

    expect(calls('/composite/graph')).toBe(1);
    expect(results.map(codeOf)).toEqual([
      'UNABLE_TO_LOCK_ROW',
      undefined,
      undefined,
      'FIELD_CUSTOM_VALIDATION_EXCEPTION',
      undefined,
      undefined,
    ]);
    const decisions = results.map((r) =>
      r.status === 'rejected' && isCrmError(r.reason)
        ? classifyFailure(r.reason.failure, Date.now()).action
        : 'ok',
    );
    expect(decisions).toEqual(['backoff', 'ok', 'ok', 'fail', 'ok', 'ok']);
    for (const i of [1, 2, 4, 5]) handedOff(refs[i]!);
    untouched(refs[0]!);
    expect(state.get('Lead', refs[3]!.id)?.Status).toBe(fields.stages.open[0]);
    expect(tasksOf(state, refs[3]!)).toEqual([]);

    // The retry redoes the one lead, whole.
    await c.writeHandoff(handoff(refs[0]!, { mayExist: true }));
    handedOff(refs[0]!);
  });

  it('fails every lead of the request with what the org said of the request: limits and sessions keep their classification', async () => {
    const c = connect();
    for (const [fault, action] of [
      ['requestLimitExceeded', 'pause'],
      ['invalidSession', 'auth_outage'],
    ] as const) {
      sandbox.reset();
      const refs = leads(4);
      state.faults[fault] = 1;
      const results = await settle(refs.map((ref) => c.writeHandoff(handoff(ref))));
      expect(
        results.map((r) =>
          r.status === 'rejected' && isCrmError(r.reason)
            ? classifyFailure(r.reason.failure, Date.now()).action
            : 'ok',
        ),
      ).toEqual([action, action, action, action]);
      for (const ref of refs) untouched(ref);
    }
  });

  it('never duplicates a Task when a graph answer is lost: the retries find theirs in one query per 100 leads', async () => {
    const refs = leads(120);
    sandbox.setFaults({ loseResponse: { method: 'POST', path: GRAPH_PATH, count: 1 } });
    const c = connect();
    const first = await settle(refs.map((ref) => c.writeHandoff(handoff(ref))));
    // The first graph request (75 leads) took effect but its answer was lost; the second was answered.
    const lost = first.filter((r) => r.status === 'rejected');
    expect(lost).toHaveLength(75);
    for (const r of lost)
      expect(r.status === 'rejected' && isCrmError(r.reason) && r.reason.failure.network).toBe(true);

    sandbox.calls.length = 0;
    const retried = await Promise.all(refs.map((ref) => c.writeHandoff(handoff(ref, { mayExist: true }))));
    expect(calls('/query', 'GET')).toBe(2);
    expect(retried.every((w) => w.task?.created === false && w.note.created === false)).toBe(true);
    refs.forEach((ref, i) => expect(handedOff(ref).Id).toBe(retried[i]!.task!.id));
  });

  it('hands a converted Lead inside a batch to its Contact, the others as usual', async () => {
    const refs = leads(4);
    state.update('Lead', refs[2]!.id, { OwnerId: ADMIN_USER_ID });
    const contactId = state.convertLead(refs[2]!.id);
    const convertedLead = state.get('Lead', refs[2]!.id);
    const c = connect();
    const written = await Promise.all(
      refs.map((ref) => c.writeHandoff(handoff(ref, { knownStage: undefined }))),
    );

    for (const i of [0, 1, 3]) handedOff(refs[i]!);
    const contact: LeadRef = { crm: 'salesforce', objectType: 'contact', id: contactId };
    expect(written[2]).toMatchObject({
      stage: 'Closed - Converted',
      advanced: false,
      task: null,
      convertedTo: contact,
    });
    expect(state.get('Lead', refs[2]!.id)).toEqual(convertedLead);
    expect(state.get('Contact', contactId)).toMatchObject({ OwnerId: ADMIN_USER_ID, Leadflow_Score__c: 64 });
    expect(state.get('Task', written[2]!.note.id)).toMatchObject({ WhoId: contactId, IsClosed: true });
    // Their stages in one read, the three in one graph.
    expect(calls(`/composite/sobjects/Lead`)).toBe(1);
    expect(calls('/composite/graph')).toBe(1);
  });

  it('moves stages forward only: stages read for many leads at once, a record sales has keeps its owner', async () => {
    const refs = leads(4);
    state.update('Lead', refs[1]!.id, { Status: fields.stages.sql, OwnerId: ADMIN_USER_ID });
    state.update('Lead', refs[2]!.id, { Status: 'Working - Contacted', OwnerId: ADMIN_USER_ID });
    const c = connect();
    const written = await Promise.all([
      c.writeHandoff(handoff(refs[0]!, { knownStage: undefined })),
      c.writeHandoff(handoff(refs[1]!, { knownStage: undefined })),
      c.writeHandoff(handoff(refs[2]!, { knownStage: undefined })),
      // Our copy says SQL already: trusted, not read.
      c.writeHandoff(handoff(refs[3]!, { knownStage: fields.stages.sql })),
    ]);
    expect(written.map((w) => [w.stage, w.advanced])).toEqual([
      ['Marketing Qualified', true],
      [fields.stages.sql, false],
      ['Working - Contacted', false],
      [fields.stages.sql, false],
    ]);
    expect(calls('/composite/sobjects/Lead')).toBe(1);
    expect(calls('/composite/graph')).toBe(1);
    handedOff(refs[0]!);
    for (const i of [1, 2])
      expect(state.get('Lead', refs[i]!.id)).toMatchObject({ OwnerId: ADMIN_USER_ID, Leadflow_Score__c: 64 });
    expect(state.get('Lead', refs[2]!.id)?.Status).toBe('Working - Contacted');
  });

  it('reads the profiles of many leads in one request; a missing one fails alone', async () => {
    const refs = leads(30);
    const missing: LeadRef = { crm: 'salesforce', objectType: 'lead', id: '00Q000000MISSNGAAA' };
    const c = connect();
    const results = await Promise.allSettled([...refs, missing].map((ref) => c.readProfile(ref)));
    expect(sandbox.calls).toHaveLength(1);
    refs.forEach((_, i) =>
      expect(results[i]).toMatchObject({ status: 'fulfilled', value: { email: `b${i}@x.io` } }),
    );
    const lost = results[30]!;
    expect(codeOf(lost)).toBe('NOT_FOUND');
    expect(
      lost.status === 'rejected' && isCrmError(lost.reason) && classifyFailure(lost.reason.failure, 0).action,
    ).toBe('fail');
  });

  it('with batching off, every handoff is one composite request of its own (the per-lead path)', async () => {
    const refs = leads(10);
    const c = connect({}, false);
    await Promise.all(refs.map((ref) => c.readProfile(ref)));
    await Promise.all(refs.map((ref) => c.writeHandoff(handoff(ref))));
    expect(calls('/composite')).toBe(10);
    expect(calls('/composite/graph')).toBe(0);
    expect(sandbox.calls.filter((call) => call.method === 'GET')).toHaveLength(10);
    for (const ref of refs) handedOff(ref);
  });
});
