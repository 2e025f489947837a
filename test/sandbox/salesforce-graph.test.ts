import jsforce, { type Connection } from 'jsforce';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index.js';
import { ADMIN_USER_ID, REP_USER_ID } from './salesforce.js';

const V = '/services/data/v62.0';

interface Node {
  method: string;
  url: string;
  referenceId: string;
  body?: unknown;
  httpHeaders?: Record<string, string>;
}
interface GraphAnswer {
  graphs: {
    graphId: string;
    isSuccessful: boolean;
    graphResponse: {
      compositeResponse: { body: unknown; httpStatusCode: number; referenceId: string }[];
    };
  }[];
}

describe('Salesforce sandbox: Composite Graph and validation rules', () => {
  let sandbox: Sandbox;
  let conn: Connection;
  const lead = (fields: Record<string, string | number | boolean | null> = {}) =>
    sandbox.salesforce.insert('Lead', {
      LastName: 'Lovelace',
      Company: 'Engines',
      Status: 'Open - Not Contacted',
      ...fields,
    });
  const graph = (graphs: { graphId: string; compositeRequest: Node[] }[]) =>
    conn.requestPost<GraphAnswer>(`${V}/composite/graph`, { graphs });
  /** A lead's handoff as one graph: its update, and a Task on it. */
  const handoff = (graphId: string, id: string, update: object = { Status: 'Marketing Qualified' }) => ({
    graphId,
    compositeRequest: [
      {
        method: 'PATCH',
        url: `${V}/sobjects/Lead/${id}`,
        referenceId: `record${graphId}`,
        body: update,
        httpHeaders: { 'Sforce-Auto-Assign': 'FALSE' },
      },
      {
        method: 'POST',
        url: `${V}/sobjects/Task`,
        referenceId: `task${graphId}`,
        body: { WhoId: id, Subject: 'Call', ActivityDate: '2030-01-07' },
        httpHeaders: { 'Sforce-Auto-Assign': 'FALSE' },
      },
    ],
  });
  const refused = async (graphs: Parameters<typeof graph>[0]) => {
    const err = (await graph(graphs).catch((e: unknown) => e)) as { errorCode?: string; message: string };
    expect(err).toBeInstanceOf(Error);
    return err;
  };
  const tasks = () => sandbox.salesforce.records('Task');

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.reset();
    conn = new jsforce.Connection({ instanceUrl: sandbox.url, accessToken: 'token', version: '62.0' });
  });

  it('runs each graph as its own transaction in one API call: a failed graph rolls back only itself', async () => {
    sandbox.salesforce.assignmentRuleOwner = ADMIN_USER_ID;
    const [a, b, c] = [lead(), lead(), lead()];
    const before = sandbox.salesforce.apiUsage.used;
    const { graphs } = await graph([
      handoff('g0', a, { Status: 'Marketing Qualified', OwnerId: REP_USER_ID }),
      handoff('g1', b, { Status: 'Hot' }),
      handoff('g2', c),
    ]);
    expect(sandbox.salesforce.apiUsage.used).toBe(before + 1);
    expect(graphs.map((g) => [g.graphId, g.isSuccessful])).toEqual([
      ['g0', true],
      ['g1', false],
      ['g2', true],
    ]);
    expect(graphs[0]!.graphResponse.compositeResponse.map((r) => r.httpStatusCode)).toEqual([204, 201]);
    // The failing node carries its error; its sibling was rolled back with it.
    expect(graphs[1]!.graphResponse.compositeResponse).toEqual([
      expect.objectContaining({
        httpStatusCode: 400,
        body: [expect.objectContaining({ errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST' })],
      }),
      expect.objectContaining({
        httpStatusCode: 400,
        body: [expect.objectContaining({ errorCode: 'PROCESSING_HALTED' })],
      }),
    ]);
    expect(sandbox.salesforce.get('Lead', b)!.Status).toBe('Open - Not Contacted');
    expect(tasks().map((t) => t.WhoId)).toEqual([a, c]);
    // Each node's Sforce-Auto-Assign held: our owner stays, the rule did not run.
    expect(sandbox.salesforce.get('Lead', a)!.OwnerId).toBe(REP_USER_ID);
    expect(sandbox.salesforce.saves.every((s) => !s.autoAssign)).toBe(true);
  });

  it('rolls a graph back when a later node fails, and resolves references within the graph', async () => {
    const id = lead();
    const { graphs } = await graph([
      {
        graphId: 'one',
        compositeRequest: [
          { method: 'PATCH', url: `${V}/sobjects/Lead/${id}`, referenceId: 'r', body: { Title: 'CTO' } },
          {
            method: 'POST',
            url: `${V}/sobjects/Task`,
            referenceId: 't',
            body: { WhoId: id, Subject: 'Call' },
          },
          { method: 'GET', url: `${V}/sobjects/Task/@{t.id}?fields=Subject`, referenceId: 'read' },
          { method: 'PATCH', url: `${V}/sobjects/Lead/${id}`, referenceId: 'bad', body: { Nope__c: 1 } },
        ],
      },
    ]);
    expect(graphs[0]!.isSuccessful).toBe(false);
    expect(graphs[0]!.graphResponse.compositeResponse.map((r) => r.httpStatusCode)).toEqual([
      400, 400, 400, 400,
    ]);
    expect(sandbox.salesforce.get('Lead', id)!.Title ?? null).toBeNull();
    expect(tasks()).toEqual([]);
  });

  it('halts the remaining graphs once more than 14 graphs failed', async () => {
    const ids = Array.from({ length: 20 }, () => lead());
    const { graphs } = await graph(ids.map((id, i) => handoff(`g${i}`, id, { Status: 'Hot' })));
    const codes = graphs.map(
      (g) => (g.graphResponse.compositeResponse[0]!.body as { errorCode: string }[])[0]!.errorCode,
    );
    expect(codes.slice(0, 15)).toEqual(Array(15).fill('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'));
    expect(codes.slice(15)).toEqual(Array(5).fill('PROCESSING_HALTED'));
    expect(graphs.every((g) => !g.isSuccessful)).toBe(true);
  });

  it('refuses more than 75 graphs, 500 nodes or 15 different nodes, writing nothing', async () => {
    const ids = Array.from({ length: 76 }, () => lead());
    expect((await refused(ids.map((id, i) => handoff(`g${i}`, id)))).message).toMatch(/75/);
    const big = Array.from({ length: 501 }, (_, i) => ({
      method: 'GET',
      url: `${V}/sobjects/Lead/${ids[0]}`,
      referenceId: `r${i}`,
    }));
    expect((await refused([{ graphId: 'big', compositeRequest: big }])).message).toMatch(/500/);
    const sObjects = ['Lead', 'Contact', 'Task', 'Event', 'Account', 'Campaign', 'CampaignMember', 'User'];
    const kinds = sObjects.flatMap((type, i) => [
      { method: 'POST', url: `${V}/sobjects/${type}`, referenceId: `p${i}`, body: {} },
      { method: 'GET', url: `${V}/sobjects/${type}/${ids[0]}`, referenceId: `g${i}` },
    ]);
    expect((await refused([{ graphId: 'kinds', compositeRequest: kinds }])).message).toMatch(/15/);
    expect(tasks()).toEqual([]);
    expect(sandbox.salesforce.records('Lead').every((l) => l.Status === 'Open - Not Contacted')).toBe(true);
  });

  it('takes only sObject resources as nodes, unique graph ids, and no inherited headers', async () => {
    const id = lead();
    const node = (over: Partial<Node>): Node => ({
      method: 'GET',
      url: `${V}/sobjects/Lead/${id}`,
      referenceId: 'n',
      ...over,
    });
    for (const url of [`${V}/query?q=SELECT+Id+FROM+Task`, `${V}/composite/sobjects`])
      expect((await refused([{ graphId: 'g', compositeRequest: [node({ url })] }])).message).toMatch(
        /only sObject resources/,
      );
    expect((await refused([{ graphId: 'g', compositeRequest: [node({ method: 'POST' })] }])).message).toMatch(
      /only sObject resources/,
    );
    const twice = [
      { graphId: 'same', compositeRequest: [node({})] },
      { graphId: 'same', compositeRequest: [node({})] },
    ];
    expect((await refused(twice)).message).toMatch(/Duplicate graphId/);
    expect((await refused([{ graphId: '_g', compositeRequest: [node({})] }])).message).toMatch(/begin/);
    const auth = node({ httpHeaders: { Authorization: 'Bearer other' } });
    expect((await refused([{ graphId: 'g', compositeRequest: [auth] }])).message).toMatch(/inherit/);
  });

  it('refuses a save a validation rule rejects with FIELD_CUSTOM_VALIDATION_EXCEPTION, here and in collections', async () => {
    sandbox.salesforce.validationRules.push({
      sObject: 'Lead',
      fails: (r) => r.Status === 'Marketing Qualified' && r.Company === 'Blocked Inc',
      message: 'Blocked companies cannot be qualified',
      field: 'Company',
    });
    const [ok, blocked] = [lead(), lead({ Company: 'Blocked Inc' })];
    const { graphs } = await graph([handoff('g0', ok), handoff('g1', blocked)]);
    expect(graphs.map((g) => g.isSuccessful)).toEqual([true, false]);
    expect(graphs[1]!.graphResponse.compositeResponse[0]!.body).toEqual([
      {
        message: 'Blocked companies cannot be qualified',
        errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        fields: ['Company'],
      },
    ]);
    const results = await conn.sobject('Lead').update([
      { Id: ok, Title: 'CTO' },
      { Id: blocked, Status: 'Marketing Qualified' },
    ]);
    expect(results.map((r) => r.success)).toEqual([true, false]);
    expect(sandbox.salesforce.get('Lead', blocked)!.Status).toBe('Open - Not Contacted');
  });
});
