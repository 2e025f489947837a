import { describe, expect, it, vi } from 'vitest';
import { cdcFieldMap } from '../../connectors/salesforce/mapping.js';
import { pollPace, USAGE_STALE_MS } from '../../connectors/salesforce/poll-pace.js';
import { keysetCondition, pageQuery } from '../../connectors/salesforce/poll-query.js';
import {
  campaignEventType,
  campaignMemberStream,
  eventStream,
  profileStream,
  taskStream,
} from '../../connectors/salesforce/poll-streams.js';
import { SalesforcePoller, type Soql } from '../../connectors/salesforce/poller.js';
import type { PolledPage } from '../../connectors/types.js';
import { Salesforce } from '../../src/config/schema.js';
import type { Logger } from '../../src/logger.js';
import type { Usage } from '../../src/store/api-usage.js';
import { defaultDescribes } from '../sandbox/salesforce.js';
import { parseSoql, runSoql, type SoqlOrg, type SoqlRecord, type SoqlRow } from '../sandbox/soql.js';

const config = Salesforce.parse({
  polling: {
    leads: { everySeconds: 60, pageSize: 3 },
    contacts: { everySeconds: 60, pageSize: 3 },
    activities: { everySeconds: 60, pageSize: 2 },
    campaignMembers: {
      everySeconds: 300,
      types: [
        { campaign: 'Webinar', event: 'webinar_attended' },
        { campaign: 'summit', event: 'event_attended' },
      ],
    },
  },
});
const fieldMap = cdcFieldMap(config.fields);
const T0 = Date.parse('2026-11-24T09:48:00.000Z');
const stamp = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');
const LEAD = '00Q000000000001AAA';
const CONTACT = '003000000000001AAA';
const REP = '005000000000002AAA';
const lead = (id = LEAD) => ({ crm: 'salesforce', objectType: 'lead', id });
const contact = (id = CONTACT) => ({ crm: 'salesforce', objectType: 'contact', id });

async function pages(iterable: AsyncIterable<PolledPage>): Promise<PolledPage[]> {
  const out: PolledPage[] = [];
  for await (const page of iterable) out.push(page);
  return out;
}

/** A fake org that runs queries the way the sandbox does (same SOQL subset and describe metadata). */
function memoryOrg(records: Record<string, SoqlRecord[]>): { soql: Soql; queries: string[] } {
  const describes = defaultDescribes();
  const org: SoqlOrg = {
    describe: (name) => [...describes.values()].find((d) => d.name.toLowerCase() === name.toLowerCase()),
    records: (name) => records[name] ?? [],
    byId: (id) => {
      for (const [sObject, rows] of Object.entries(records)) {
        const record = rows.find((r) => r.Id === id);
        if (record) return { sObject, record };
      }
      return undefined;
    },
  };
  const queries: string[] = [];
  return {
    queries,
    // eslint-disable-next-line @typescript-eslint/require-await
    soql: async function* (query) {
      queries.push(query);
      yield runSoql(query, org, '62.0').rows;
    },
  };
}

function leadRecord(n: number, at: number, fields: SoqlRecord = {}): SoqlRecord {
  return {
    Id: `00Q00000000${String(n).padStart(4, '0')}AAA`,
    SystemModstamp: stamp(at),
    IsConverted: false,
    Email: `lead${n}@x.io`,
    LastName: `Lead ${n}`,
    Company: 'Acme',
    Status: 'Open - Not Contacted',
    ...fields,
  };
}

const usageAt = (share: number): { get(): Promise<Usage | null> } => ({
  get: () => Promise.resolve({ used: share * 15_000, max: 15_000, at: T0 }),
});

function fakeLogger() {
  const logger = { warn: vi.fn(), info: vi.fn() };
  return { logger, asLogger: logger as unknown as Logger };
}

describe('daily usage pace', () => {
  const limits = { slowAt: 0.8, stopAt: 0.95 };
  const reading = (share: number, age = 0) => ({ used: share * 15_000, max: 15_000, at: T0 - age });
  it.each([
    [null, 'full'],
    [0, 'full'],
    [0.5, 'full'],
    [0.7999, 'full'],
    [0.8, 'slow'],
    [0.85, 'slow'],
    [0.9499, 'slow'],
    [0.95, 'stopped'],
    [0.96, 'stopped'],
    [1.2, 'stopped'],
  ] as const)('used share %s → %s', (share, pace) => {
    expect(pollPace(share === null ? null : reading(share), limits, T0)).toBe(pace);
  });
  it('stops outright when both thresholds coincide', () => {
    expect(pollPace({ used: 90, max: 100, at: T0 }, { slowAt: 0.9, stopAt: 0.9 }, T0)).toBe('stopped');
  });
  it('a stale stop reading only slows polling, so a page can bring a fresh one', () => {
    expect(pollPace(reading(0.96, USAGE_STALE_MS - 1), limits, T0)).toBe('stopped');
    expect(pollPace(reading(0.96, USAGE_STALE_MS), limits, T0)).toBe('slow');
    expect(pollPace(reading(0.5, 10 * USAGE_STALE_MS), limits, T0)).toBe('full');
    // Nothing known and a zero threshold: one page, to learn the usage.
    expect(pollPace(null, { slowAt: 0, stopAt: 0 }, T0)).toBe('slow');
  });
});

describe('page queries', () => {
  it('reads the first page from the watermark inclusively, later ones strictly after the last record', () => {
    expect(keysetCondition({ stamp: T0 })).toBe('SystemModstamp >= 2026-11-24T09:48:00Z');
    expect(keysetCondition({ stamp: T0, afterId: LEAD })).toBe(
      `((SystemModstamp = 2026-11-24T09:48:00Z AND Id > '${LEAD}') OR SystemModstamp > 2026-11-24T09:48:00Z)`,
    );
  });

  it('ANDs the source filter with the keyset and orders by (SystemModstamp, Id)', () => {
    const query = pageQuery(
      campaignMemberStream(config.polling.campaignMembers!),
      { stamp: T0 + 1, afterId: 'x' },
      50,
    );
    expect(query).toBe(
      'SELECT Id, LeadId, ContactId, Status, HasResponded, FirstRespondedDate, Campaign.Name, SystemModstamp ' +
        'FROM CampaignMember WHERE HasResponded = true AND ((SystemModstamp = 2026-11-24T09:48:00.001Z ' +
        "AND Id > 'x') OR SystemModstamp > 2026-11-24T09:48:00.001Z) ORDER BY SystemModstamp, Id LIMIT 50",
    );
    // The condition nests as intended: the filter applies to both halves of the OR.
    const where = parseSoql(query).where!;
    expect(where).toMatchObject({ kind: 'and', right: { kind: 'or' } });
  });

  it('selects the mapped fields, the lifecycle field, Id and SystemModstamp, and filters no long text', async () => {
    const query = pageQuery(profileStream('lead', fieldMap), { stamp: T0 }, 200);
    const parsed = parseSoql(query);
    const selected = parsed.select.map((p) => p.join('.'));
    expect(selected).toEqual(
      expect.arrayContaining(['Id', 'SystemModstamp', 'IsConverted', 'Email', 'Status']),
    );
    expect(new Set(selected).size).toBe(selected.length);
    const contactQuery = parseSoql(pageQuery(profileStream('contact', fieldMap), { stamp: T0 }, 200));
    expect(contactQuery.select.map((p) => p.join('.'))).toContain('Leadflow_Lifecycle_Stage__c');
    // Every query runs on the sandbox's describe, which refuses long text in WHERE.
    const { soql } = memoryOrg({});
    for (const source of ['leads', 'contacts', 'activities', 'campaignMembers'])
      await expect(pages(new SalesforcePoller({ soql, config }).poll(source, T0, T0))).resolves.toEqual([]);
  });
});

describe('leads and contacts', () => {
  const leads = profileStream('lead', fieldMap);

  it('map every mapped field to a profile change named by the record and its modification', () => {
    const outcome = leads.map(leadRecord(1, T0, { Title: 'VP Sales', NumberOfEmployees: 250 }));
    expect(outcome.kind).toBe('mapped');
    if (outcome.kind !== 'mapped') return;
    const byField = Object.fromEntries(outcome.profile.map((c) => [c.field, c]));
    expect(byField.jobTitle).toEqual({
      id: `salesforce:poll:00Q000000000001AAA:${T0}:jobTitle`,
      lead: lead('00Q000000000001AAA'),
      field: 'jobTitle',
      value: 'VP Sales',
      occurredAt: T0,
      source: 'salesforce.poll',
    });
    expect(byField.companySize?.value).toBe(250);
    // Lead Status feeds both canonical keys.
    expect(byField.leadStatus?.value).toBe('Open - Not Contacted');
    expect(byField.lifecycleStage?.value).toBe('Open - Not Contacted');
  });

  it('of a converted lead keep only its status (conversions are counted), and refuse records that do not parse', () => {
    const converted = leads.map(leadRecord(1, T0, { IsConverted: true, Status: 'Closed - Converted' }));
    if (converted.kind !== 'mapped') throw new Error(converted.kind);
    expect(converted.profile.map((c) => [c.field, c.value])).toEqual([
      ['leadStatus', 'Closed - Converted'],
      ['lifecycleStage', 'Closed - Converted'],
    ]);
    expect(leads.map(leadRecord(1, T0, { IsConverted: true, Status: undefined }))).toEqual({
      kind: 'skipped',
    });
    expect(leads.map(leadRecord(1, T0, { SystemModstamp: 'yesterday' })).kind).toBe('invalid');
    expect(leads.map({ ...leadRecord(1, T0), Email: { nested: true } }).kind).toBe('invalid');
    expect(leads.map({ ...leadRecord(1, T0), Id: 'not an id' }).kind).toBe('invalid');
  });

  it('a contact maps its own fields', () => {
    const outcome = profileStream('contact', fieldMap).map({
      Id: CONTACT,
      SystemModstamp: stamp(T0),
      MailingCountry: 'DE',
      Leadflow_Lifecycle_Stage__c: 'Marketing Qualified',
    });
    if (outcome.kind !== 'mapped') throw new Error(outcome.kind);
    expect(outcome.profile.map((c) => [c.lead.objectType, c.field, c.value])).toEqual(
      expect.arrayContaining([
        ['contact', 'country', 'DE'],
        ['contact', 'leadStatus', 'Marketing Qualified'],
        ['contact', 'lifecycleStage', 'Marketing Qualified'],
      ]),
    );
  });

  it('a malformed record is counted and logged, and the page goes on', async () => {
    const { soql } = memoryOrg({
      Lead: [leadRecord(1, T0 + 1), leadRecord(2, T0 + 2, { IsConverted: true }), leadRecord(3, T0 + 3)],
    });
    // The malformed record arrives from the CRM, between two good ones.
    const broken: Soql = async function* (query) {
      for await (const rows of soql(query))
        yield rows.length
          ? [rows[0]!, { ...rows[1]!, Id: '00Q000000000009AAA', IsConverted: 'no' }, ...rows.slice(1)]
          : rows;
    };
    const { logger, asLogger } = fakeLogger();
    const [page, ...rest] = await pages(
      new SalesforcePoller({ soql: broken, config, logger: asLogger }).poll('leads', T0, T0),
    );
    expect(rest).toEqual([]);
    expect(page!.skipped).toBe(1);
    expect(new Set(page!.profile.map((c) => c.lead.id))).toEqual(
      new Set(['00Q000000000001AAA', '00Q000000000002AAA', '00Q000000000003AAA']),
    );
    // The converted lead: its status only.
    expect(page!.profile.filter((c) => c.lead.id === '00Q000000000002AAA').map((c) => c.field)).toEqual([
      'leadStatus',
      'lifecycleStage',
    ]);
    expect(page!.watermark).toBe(T0 + 3);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]![0]).toMatchObject({ sObject: 'Lead', id: '00Q000000000009AAA' });
  });
});

describe('activities', () => {
  const task = (fields: SoqlRecord): SoqlRecord => ({
    Id: '00T000000000001AAA',
    SystemModstamp: stamp(T0 + 5_000),
    WhoId: LEAD,
    Subject: 'Call',
    Description: null,
    Status: 'Completed',
    IsClosed: true,
    OwnerId: REP,
    TaskSubtype: 'Call',
    CreatedDate: stamp(T0),
    CompletedDateTime: null,
    ...fields,
  });

  it.each([
    ['Call', 'sales_call'],
    ['Email', 'sales_email'],
    ['Task', 'sales_task'],
    [null, 'sales_task'],
  ])('a task of subtype %s is %s, and the rep acting', (subtype, type) => {
    const outcome = taskStream.map(task({ TaskSubtype: subtype }));
    expect(outcome).toEqual({
      kind: 'mapped',
      events: [
        {
          id: 'salesforce:task:00T000000000001AAA',
          lead: lead(),
          type,
          occurredAt: T0,
          source: 'salesforce.poll',
          properties: { subject: 'Call', status: 'Completed', ownerId: REP },
        },
      ],
      profile: [
        {
          id: 'salesforce:poll:00T000000000001AAA:lastSalesActivity',
          lead: lead(),
          field: 'lastSalesActivity',
          value: new Date(T0).toISOString(),
          occurredAt: T0,
          source: 'salesforce.poll',
        },
      ],
    });
  });

  it('our own handoff task is no rep activity until the rep completes it', () => {
    const marker = 'Score 82 (fit 40, engagement 42)\n\nHandoff ID: h-123';
    expect(
      taskStream.map(
        task({ Description: marker, Status: 'Not Started', IsClosed: false, TaskSubtype: 'Task' }),
      ),
    ).toEqual({ kind: 'skipped' });
    expect(
      taskStream.map(
        task({ Subject: 'Follow up (Handoff ID: h-9)', Status: 'In Progress', IsClosed: false }),
      ),
    ).toEqual({ kind: 'skipped' });
    const completed = taskStream.map(
      task({ Description: marker, Status: 'Completed', CompletedDateTime: stamp(T0 + 3_000) }),
    );
    if (completed.kind !== 'mapped') throw new Error(completed.kind);
    // Completing it is the rep's action, at the time it was completed.
    expect(completed.profile).toEqual([
      expect.objectContaining({ field: 'lastSalesActivity', value: new Date(T0 + 3_000).toISOString() }),
    ]);
  });

  it("closed is Task.IsClosed, not Status 'Completed': an org's own closed status counts, an open one does not", () => {
    const marker = 'Score 82 (fit 40, engagement 42)\n\nHandoff ID: h-123';
    const done = taskStream.map(
      task({ Description: marker, Status: 'Done', IsClosed: true, CompletedDateTime: stamp(T0 + 4_000) }),
    );
    expect(done.kind === 'mapped' && done.profile[0]?.value).toBe(new Date(T0 + 4_000).toISOString());
    expect(taskStream.map(task({ Description: marker, Status: 'Completed', IsClosed: false }))).toEqual({
      kind: 'skipped',
    });
    expect(taskStream.map(task({ Description: marker, IsClosed: undefined })).kind).toBe('invalid');
  });

  it('tasks and events on contacts map to the contact; on anything else they are skipped', () => {
    const onContact = taskStream.map(task({ WhoId: CONTACT }));
    expect(onContact.kind === 'mapped' && onContact.events[0]!.lead).toEqual(contact());
    expect(taskStream.map(task({ WhoId: null }))).toEqual({ kind: 'skipped' });
    expect(taskStream.map(task({ WhoId: '001000000000001AAA' }))).toEqual({ kind: 'skipped' });
    expect(taskStream.map(task({ CreatedDate: 'soon' })).kind).toBe('invalid');
  });

  it('an event is a meeting at its start time; booking it is the rep acting', () => {
    const event = {
      Id: '00U000000000001AAA',
      SystemModstamp: stamp(T0),
      WhoId: CONTACT,
      Subject: 'Demo',
      OwnerId: REP,
      CreatedDate: stamp(T0),
      ActivityDateTime: stamp(T0 + 86_400_000),
    };
    const outcome = eventStream.map(event);
    expect(outcome).toMatchObject({
      kind: 'mapped',
      events: [
        {
          id: 'salesforce:event:00U000000000001AAA',
          lead: contact(),
          type: 'meeting',
          occurredAt: T0 + 86_400_000,
          properties: { subject: 'Demo', ownerId: REP },
        },
      ],
      profile: [{ field: 'lastSalesActivity', occurredAt: T0 }],
    });
    expect(eventStream.map({ ...event, ActivityDateTime: null })).toMatchObject({
      events: [{ occurredAt: T0 }],
    });
  });

  it('tasks and events page side by side; the watermark waits for the stream that has more', async () => {
    const tasks = [1, 2, 3].map((n) =>
      task({ Id: `00T00000000000${n}AAA`, SystemModstamp: stamp(T0 + n * 10) }),
    );
    const events = [
      { Id: '00U000000000001AAA', SystemModstamp: stamp(T0 + 15), WhoId: LEAD, CreatedDate: stamp(T0) },
    ];
    const { soql, queries } = memoryOrg({ Task: tasks, Event: events });
    const found = await pages(new SalesforcePoller({ soql, config }).poll('activities', T0, T0));
    expect(found.map((p) => [p.events.map((e) => e.id), p.watermark])).toEqual([
      // Two tasks fill the page: only what is before the 2nd task's instant is surely complete.
      [
        [
          'salesforce:task:00T000000000001AAA',
          'salesforce:task:00T000000000002AAA',
          'salesforce:event:00U000000000001AAA',
        ],
        T0 + 20,
      ],
      [['salesforce:task:00T000000000003AAA'], T0 + 30],
    ]);
    // The event stream was done after its first page: the second page asks only for tasks.
    expect(queries.map((q) => /FROM (\w+)/.exec(q)![1])).toEqual(['Task', 'Event', 'Task']);
  });
});

describe('campaign members', () => {
  const cm = campaignMemberStream(config.polling.campaignMembers!);
  const member = (fields: SoqlRow) => ({
    Id: '00v000000000001AAA',
    LeadId: LEAD,
    ContactId: null,
    Status: 'Attended',
    HasResponded: true,
    FirstRespondedDate: '2026-11-24',
    Campaign: { attributes: { type: 'Campaign' }, Name: 'Q4 Scoring WEBINAR' },
    SystemModstamp: stamp(T0),
    ...fields,
  });

  it.each([
    ['Q4 Scoring WEBINAR', 'webinar_attended'],
    ['Berlin Summit 2026', 'event_attended'],
    ['Webinar at the summit', 'webinar_attended'],
    ['Newsletter', 'campaign_response'],
    [null, 'campaign_response'],
  ])('a response to "%s" is %s', (name, type) => {
    expect(campaignEventType(name, config.polling.campaignMembers!)).toBe(type);
  });

  it('maps a response to the member lead, with the campaign and status', () => {
    expect(cm.map(member({}))).toEqual({
      kind: 'mapped',
      events: [
        {
          id: 'salesforce:cm:00v000000000001AAA',
          lead: lead(),
          type: 'webinar_attended',
          occurredAt: T0,
          source: 'salesforce.poll',
          properties: { campaign: 'Q4 Scoring WEBINAR', status: 'Attended' },
        },
      ],
      profile: [],
    });
  });

  it('prefers the contact of a converted lead; a response from days ago keeps its date', () => {
    const outcome = cm.map(member({ ContactId: CONTACT, FirstRespondedDate: '2026-11-20', Campaign: null }));
    expect(outcome).toMatchObject({
      events: [{ lead: contact(), occurredAt: Date.parse('2026-11-20'), type: 'campaign_response' }],
    });
    expect(cm.map(member({ LeadId: null }))).toEqual({ kind: 'skipped' });
    expect(cm.map(member({ FirstRespondedDate: 'Nov 24' })).kind).toBe('invalid');
  });
});

describe('paging and daily usage', () => {
  it('records sharing one instant across page boundaries are each read once, and the poll ends', async () => {
    // Seven leads, five of them at the same instant: more than a page (3) at one timestamp.
    const records = [
      leadRecord(1, T0 + 1),
      ...[2, 3, 4, 5, 6].map((n) => leadRecord(n, T0 + 2)),
      leadRecord(7, T0 + 3),
    ];
    const { soql, queries } = memoryOrg({ Lead: records });
    const found = await pages(new SalesforcePoller({ soql, config }).poll('leads', T0, T0));
    const ids = found.flatMap((p) => [...new Set(p.profile.map((c) => c.lead.id))]);
    expect(ids).toEqual(records.map((r) => r.Id));
    expect(found.map((p) => p.watermark)).toEqual([T0 + 2, T0 + 2, T0 + 3]);
    expect(queries[1]).toContain("Id > '00Q000000000003AAA'");
  });

  it('a slowed poll reads one page; a page that does not move the watermark does not count', async () => {
    const records = [2, 3, 4, 5].map((n) => leadRecord(n, T0)).concat(leadRecord(6, T0 + 9));
    const { soql } = memoryOrg({ Lead: records });
    const { logger, asLogger } = fakeLogger();
    const poller = new SalesforcePoller({ soql, config, usage: usageAt(0.85), logger: asLogger });
    const found = await pages(poller.poll('leads', T0, T0));
    // The first page is all at the watermark's instant; the second moves it, and the run ends.
    expect(found.map((p) => p.watermark)).toEqual([T0, T0 + 9]);
    expect(logger.info).toHaveBeenCalledTimes(1);
    const { soql: plenty } = memoryOrg({ Lead: [1, 2, 3, 4, 5, 6, 7].map((n) => leadRecord(n, T0 + n)) });
    const slowed = await pages(
      new SalesforcePoller({ soql: plenty, config, usage: usageAt(0.85) }).poll('leads', T0, T0),
    );
    expect(slowed.map((p) => p.watermark)).toEqual([T0 + 3]);
    const full = await pages(
      new SalesforcePoller({ soql: plenty, config, usage: usageAt(0.5) }).poll('leads', T0, T0),
    );
    expect(full.map((p) => p.watermark)).toEqual([T0 + 3, T0 + 6, T0 + 7]);
  });

  it('at the stop threshold a poll reads nothing and says so once', async () => {
    const { soql, queries } = memoryOrg({ Lead: [leadRecord(1, T0 + 1)] });
    const { logger, asLogger } = fakeLogger();
    const poller = new SalesforcePoller({ soql, config, usage: usageAt(0.96), logger: asLogger });
    expect(await pages(poller.poll('leads', T0, T0))).toEqual([]);
    expect(queries).toEqual([]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });

  it('usage climbing mid-poll slows it after the page it is on', async () => {
    const { soql } = memoryOrg({ Lead: [1, 2, 3, 4, 5, 6, 7].map((n) => leadRecord(n, T0 + n)) });
    const shares = [0.5, 0.5, 0.97];
    const usage = { get: () => Promise.resolve({ used: shares.shift()! * 100, max: 100, at: T0 }) };
    const found = await pages(new SalesforcePoller({ soql, config, usage }).poll('leads', T0, T0));
    expect(found.map((p) => p.watermark)).toEqual([T0 + 3, T0 + 6]);
  });

  it('refuses sources it does not know', () => {
    const { soql } = memoryOrg({});
    expect(() => new SalesforcePoller({ soql, config }).poll('opportunities', T0, T0)).toThrow(
      /unknown Salesforce poll source "opportunities"/,
    );
  });
});
