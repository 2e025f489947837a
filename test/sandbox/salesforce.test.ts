import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { XMLParser } from 'fast-xml-parser';
import jsforce, { type Connection } from 'jsforce';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index.js';
import {
  ADMIN_USER_ID,
  INACTIVE_USER_ID,
  REP_USER_ID,
  outboundMessageXml,
  sendOutboundMessage,
  type OutboundMessage,
  type SfRecord,
} from './salesforce.js';
import { SoqlError, parseSoql, runSoql, to18, type SoqlOrg } from './soql.js';

const V = '/services/data/v62.0';

/** What jsforce throws for a REST error: `errorCode` (also its name) and the raw error in `data`. */
interface JsforceError extends Error {
  errorCode: string;
  data: { message: string; errorCode: string; fields?: string[] };
}

async function failure(promise: PromiseLike<unknown>): Promise<JsforceError> {
  try {
    await promise;
  } catch (err) {
    return err as JsforceError;
  }
  throw new Error('expected the call to fail');
}

interface SubResponse {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}
interface SaveResult {
  id?: string;
  success: boolean;
  errors: { statusCode: string; message: string; fields: string[] }[];
}

describe('Salesforce sandbox through jsforce', () => {
  let sandbox: Sandbox;
  let conn: Connection;

  const connect = (accessToken = 'token-1') =>
    new jsforce.Connection({ instanceUrl: sandbox.url, accessToken, version: '62.0' });
  const lead = (fields: Record<string, string | number | boolean | null> = {}) =>
    sandbox.salesforce.insert('Lead', { LastName: 'Lovelace', Company: 'Engines', ...fields });
  const composite = (body: object) =>
    conn.requestPost<{ compositeResponse: SubResponse[] }>(`${V}/composite`, body);

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
    conn = connect();
  });

  describe('sObjects', () => {
    it('creates, reads, updates and deletes a Lead with Salesforce ids, stamps and answers', async () => {
      const created = await conn.sobject('Lead').create({
        LastName: 'Hopper',
        Company: 'Navy',
        Email: 'grace@navy.example',
      });
      expect(created).toMatchObject({ success: true, errors: [] });
      const id = (created as { id: string }).id;
      expect(id).toMatch(/^00Q[A-Za-z0-9]{15}$/);
      expect(to18(id.slice(0, 15))).toBe(id);

      const stored = sandbox.salesforce.get('Lead', id)!;
      // Defaults a fresh org applies: picklist default, running user as owner, derived Name.
      expect(stored).toMatchObject({
        Status: 'Open - Not Contacted',
        OwnerId: ADMIN_USER_ID,
        Name: 'Hopper',
        IsConverted: false,
        HasOptedOutOfEmail: false,
      });
      expect(stored.SystemModstamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/);
      expect(stored.CreatedDate).toBe(stored.SystemModstamp);

      const read = await conn.sobject('Lead').retrieve(id, { fields: ['Email', 'Status'] });
      expect(read).toEqual({
        attributes: { type: 'Lead', url: `${V}/sobjects/Lead/${id}` },
        Email: 'grace@navy.example',
        Status: 'Open - Not Contacted',
        Id: id,
      });

      sandbox.salesforce.clock = () => Date.parse('2030-01-02T03:04:05Z');
      const updated = await conn
        .sobject('Lead')
        .update({ Id: id, Status: 'Working - Contacted', Leadflow_Score__c: 72 });
      expect(updated).toEqual({ id, success: true, errors: [] });
      expect(sandbox.salesforce.get('Lead', id)).toMatchObject({
        Status: 'Working - Contacted',
        Leadflow_Score__c: 72,
        SystemModstamp: '2030-01-02T03:04:05.000+0000',
        LastModifiedDate: '2030-01-02T03:04:05.000+0000',
        CreatedDate: stored.CreatedDate,
      });

      await conn.sobject('Lead').destroy(id);
      expect(sandbox.salesforce.get('Lead', id)).toBeUndefined();
      const missing = await failure(conn.sobject('Lead').retrieve(id));
      expect(missing.errorCode).toBe('NOT_FOUND');
      expect(missing.message).toBe('The requested resource does not exist');
    });

    it('accepts 15-character ids and answers with the 18-character form', async () => {
      const id = lead();
      const read = (await conn.sobject('Lead').retrieve(id.slice(0, 15))) as { Id: string };
      expect(read.Id).toBe(id);
    });

    it('rejects what Salesforce rejects, with its error codes', async () => {
      const id = lead();
      const cases: [Record<string, unknown>, string, string[] | undefined][] = [
        [{ Status: 'Hot' }, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', ['Status']],
        [{ Nope__c: 1 }, 'INVALID_FIELD', undefined],
        [{ IsConverted: true }, 'INVALID_FIELD_FOR_INSERT_UPDATE', ['IsConverted']],
        [{ OwnerId: INACTIVE_USER_ID }, 'INACTIVE_OWNER_OR_USER', []],
        [{ OwnerId: '005000000000077AAA' }, 'INVALID_CROSS_REFERENCE_KEY', ['OwnerId']],
        [{ LastName: null }, 'REQUIRED_FIELD_MISSING', ['LastName']],
        [{ Email: 'not an email' }, 'INVALID_EMAIL_ADDRESS', ['Email']],
        [{ NumberOfEmployees: 'many' }, 'JSON_PARSER_ERROR', undefined],
      ];
      for (const [fields, code, errorFields] of cases) {
        const err = await failure(conn.sobject('Lead').update({ Id: id, ...fields }));
        expect(err.errorCode, JSON.stringify(fields)).toBe(code);
        expect(err.data.fields).toEqual(errorFields);
      }
      // Nothing of the rejected writes was applied.
      expect(sandbox.salesforce.get('Lead', id)).toMatchObject({
        Status: 'Open - Not Contacted',
        LastName: 'Lovelace',
      });
    });

    it('requires LastName and Company on a Lead', async () => {
      const err = await failure(conn.sobject('Lead').create({ Email: 'x@y.io' }));
      expect(err.errorCode).toBe('REQUIRED_FIELD_MISSING');
      expect(err.message).toBe('Required fields are missing: [LastName, Company]');
      expect(err.data.fields).toEqual(['LastName', 'Company']);
    });

    it('validates the rep Task: owner, long Description, date and picklists; derives IsClosed', async () => {
      const who = lead();
      const base = { WhoId: who, OwnerId: REP_USER_ID, Subject: 'Call the MQL', ActivityDate: '2026-11-25' };
      const ok = (await conn.sobject('Task').create({ ...base, Description: 'x'.repeat(32_000) })) as {
        id: string;
      };
      expect(ok.id).toMatch(/^00T/);
      expect(sandbox.salesforce.get('Task', ok.id)).toMatchObject({
        Status: 'Not Started',
        Priority: 'Normal',
        TaskSubtype: 'Task',
        IsClosed: false,
      });
      expect(sandbox.salesforce.get('Task', ok.id)!.CompletedDateTime).toBeUndefined();

      const tooLong = await failure(
        conn.sobject('Task').create({ ...base, Description: 'x'.repeat(32_001) }),
      );
      expect(tooLong.errorCode).toBe('STRING_TOO_LONG');
      expect(tooLong.data.fields).toEqual(['Description']);
      const inactive = await failure(conn.sobject('Task').create({ ...base, OwnerId: INACTIVE_USER_ID }));
      expect(inactive.errorCode).toBe('INACTIVE_OWNER_OR_USER');
      expect(inactive.message).toBe(
        `operation performed with inactive user [${INACTIVE_USER_ID}] as owner of task`,
      );
      const badDate = await failure(conn.sobject('Task').create({ ...base, ActivityDate: '25/11/2026' }));
      expect(badDate.errorCode).toBe('JSON_PARSER_ERROR');
      const badWho = await failure(conn.sobject('Task').create({ ...base, WhoId: REP_USER_ID }));
      expect(badWho.errorCode).toBe('FIELD_INTEGRITY_EXCEPTION');
      const readOnly = await failure(conn.sobject('Task').update({ Id: ok.id, IsClosed: true }));
      expect(readOnly.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');

      await conn.sobject('Task').update({ Id: ok.id, Status: 'Completed' });
      const done = sandbox.salesforce.get('Task', ok.id)!;
      expect(done.IsClosed).toBe(true);
      expect(done.CompletedDateTime).toBe(done.SystemModstamp);
    });

    it('converts a lead like convertLead: Contact and Account made, activities moved, the Lead read-only', async () => {
      const sf = sandbox.salesforce;
      const lead = sf.insert('Lead', {
        FirstName: 'Ada',
        LastName: 'Lovelace',
        Company: 'Engines',
        Email: 'ada@x.io',
      });
      const task = sf.insert('Task', { WhoId: lead, Subject: 'Call' });
      const contact = sf.convertLead(lead);
      const converted = await conn.sobject('Lead').retrieve(lead);
      expect(converted).toMatchObject({
        IsConverted: true,
        Status: 'Closed - Converted',
        ConvertedContactId: contact,
      });
      expect(String(converted.ConvertedAccountId)).toMatch(/^001/);
      expect(sf.get('Contact', contact)).toMatchObject({ LastName: 'Lovelace', Email: 'ada@x.io' });
      expect(sf.get('Account', String(converted.ConvertedAccountId))?.Name).toBe('Engines');
      expect(sf.get('Task', task)?.WhoId).toBe(contact);

      const refused = await failure(conn.sobject('Lead').update({ Id: lead, Title: 'CTO' }));
      expect(refused.errorCode).toBe('CANNOT_UPDATE_CONVERTED_LEAD');
      expect(refused.data).toEqual({
        message: 'cannot reference converted lead',
        errorCode: 'CANNOT_UPDATE_CONVERTED_LEAD',
        fields: [],
      });
      const [collected] = await conn
        .sobject('Lead')
        .update([{ Id: lead, Title: 'CTO' }], { allOrNone: false });
      expect(collected).toMatchObject({
        success: false,
        errors: [expect.objectContaining({ statusCode: 'CANNOT_UPDATE_CONVERTED_LEAD' })],
      });
    });

    it("derives Task.IsClosed from the TaskStatus of its Status, the org's own closed statuses included", async () => {
      const who = sandbox.salesforce.insert('Lead', { LastName: 'Closed', Company: 'Acme' });
      const statuses = await conn.query<{ ApiName: string; IsClosed: boolean }>(
        'SELECT ApiName, IsClosed FROM TaskStatus ORDER BY SortOrder',
      );
      expect(statuses.records.map((r) => [r.ApiName, r.IsClosed])).toEqual([
        ['Not Started', false],
        ['In Progress', false],
        ['Completed', true],
      ]);
      const refused = await failure(
        conn.sobject('Task').create({ WhoId: who, Subject: 'x', Status: 'Done' }),
      );
      expect(refused.errorCode).toBe('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');

      sandbox.salesforce.addTaskStatus('Done', true);
      sandbox.salesforce.addTaskStatus('Waiting', false);
      for (const Status of ['Done', 'Waiting'])
        await conn.sobject('Task').create({ WhoId: who, Subject: Status, Status });
      const closed = await conn.query<{ Subject: string }>(
        `SELECT Subject FROM Task WHERE WhoId = '${who}' AND IsClosed = true`,
      );
      expect(closed.records.map((r) => r.Subject)).toEqual(['Done']);
    });

    it('describes sObjects, and tests can change the describe', async () => {
      const describe = await conn.sobject('Lead').describe();
      const status = describe.fields.find((f) => f.name === 'Status')!;
      expect(status).toMatchObject({
        type: 'picklist',
        restrictedPicklist: true,
        updateable: true,
        nillable: false,
      });
      expect(status.picklistValues?.map((p: { value: string }) => p.value)).toContain('Marketing Qualified');
      expect(describe.fields.find((f) => f.name === 'Leadflow_Score_Reasons__c')).toMatchObject({
        type: 'textarea',
        length: 32_768,
        filterable: false,
      });
      const contact = await conn.sobject('Contact').describe();
      expect(contact.fields.map((f) => f.name)).toEqual(
        expect.arrayContaining([
          'MailingCountry',
          'AccountId',
          'Leadflow_Lifecycle_Stage__c',
          'Leadflow_Bad_Data__c',
        ]),
      );

      sandbox.salesforce.describe
        .get('Lead')!
        .fields.find((f) => f.name === 'Status')!
        .picklistValues.push({ value: 'Nurture', label: 'Nurture', active: true, defaultValue: false });
      const id = lead();
      await conn.sobject('Lead').update({ Id: id, Status: 'Nurture' });
      expect(sandbox.salesforce.get('Lead', id)!.Status).toBe('Nurture');

      expect((await failure(conn.describe('Nope__c'))).errorCode).toBe('NOT_FOUND');
    });

    it('runs assignment rules on Lead writes unless Sforce-Auto-Assign is FALSE', async () => {
      sandbox.salesforce.assignmentRuleOwner = REP_USER_ID;
      const ruled = (await conn.sobject('Lead').create({ LastName: 'A', Company: 'B' })) as { id: string };
      expect(sandbox.salesforce.get('Lead', ruled.id)!.OwnerId).toBe(REP_USER_ID);
      const kept = (await conn
        .sobject('Lead')
        .create(
          { LastName: 'A', Company: 'B', OwnerId: ADMIN_USER_ID },
          { headers: { 'Sforce-Auto-Assign': 'FALSE' } },
        )) as {
        id: string;
      };
      expect(sandbox.salesforce.get('Lead', kept.id)!.OwnerId).toBe(ADMIN_USER_ID);
    });
  });

  describe('SOQL query', () => {
    it('filters on unquoted datetimes as instants, orders, limits and resolves relationships', async () => {
      const campaign = sandbox.salesforce.insert('Campaign', { Name: 'Q4 Webinar' });
      const old = lead({ Email: 'old@x.io', SystemModstamp: '2026-01-01T00:00:00.000+0000' });
      const a = lead({ Email: 'A@X.io', LastName: 'Zed', SystemModstamp: '2026-03-01T10:00:00.000+0000' });
      const b = lead({ Email: 'b@x.io', LastName: 'Abe', SystemModstamp: '2026-02-01T00:00:00.000+0100' });
      sandbox.salesforce.insert('CampaignMember', { CampaignId: campaign, LeadId: a, Status: 'Attended' });
      sandbox.salesforce.insert('Task', { WhoId: b, Subject: 'Call', OwnerId: REP_USER_ID });

      const result = await conn.query<SfRecord>(
        'SELECT Id, Email, Owner.Name FROM Lead WHERE SystemModstamp > 2026-01-01T00:00:00Z ORDER BY SystemModstamp DESC LIMIT 5',
      );
      expect(result).toMatchObject({ totalSize: 2, done: true });
      expect(result.records.map((r) => r.Id)).toEqual([a, b]);
      expect(result.records[0]).toEqual({
        attributes: { type: 'Lead', url: `${V}/sobjects/Lead/${a}` },
        Id: a,
        Email: 'A@X.io',
        Owner: {
          attributes: { type: 'Name', url: `${V}/sobjects/User/${ADMIN_USER_ID}` },
          Name: 'Ada Admin',
        },
      });
      expect(old).toBeTruthy();

      // String comparison is case-insensitive, as in Salesforce.
      const byEmail = await conn.query<SfRecord>("SELECT Id FROM Lead WHERE Email = 'a@x.io'");
      expect(byEmail.records.map((r) => r.Id)).toEqual([a]);

      const members = await conn.query<{
        Campaign: { Name: string };
        HasResponded: boolean;
        FirstRespondedDate: string;
      }>(
        "SELECT Id, LeadId, Campaign.Name, HasResponded, FirstRespondedDate FROM CampaignMember WHERE Campaign.Name LIKE '%webinar%'",
      );
      expect(members.records[0]).toMatchObject({ Campaign: { Name: 'Q4 Webinar' }, HasResponded: true });
      expect(members.records[0]!.FirstRespondedDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);

      const tasks = await conn.query<{ Who: { Type: string } }>(
        "SELECT Id, Who.Type, Owner.Name FROM Task WHERE Who.Type = 'Lead' AND (Status = 'Not Started' OR Status = 'Completed')",
      );
      expect(tasks.records[0]).toMatchObject({ Who: { Type: 'Lead' }, Owner: { Name: 'Ben Okafor' } });
    });

    it('pages with nextRecordsUrl and Sforce-Query-Options batchSize (queryMore and autoFetch)', async () => {
      for (let i = 0; i < 450; i++) lead({ Email: `p${i}@x.io` });
      const soql = 'SELECT Id, Email FROM Lead ORDER BY Email';
      const first = await conn.query<SfRecord>(soql, {
        headers: { 'Sforce-Query-Options': 'batchSize=200' },
      });
      expect(first).toMatchObject({ totalSize: 450, done: false });
      expect(first.records).toHaveLength(200);
      // jsforce makes nextRecordsUrl absolute; Salesforce's (and the sandbox's) is relative.
      expect(first.nextRecordsUrl).toMatch(/\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]{15}-200$/);
      const raw = await conn.request<{ nextRecordsUrl: string }>({
        method: 'GET',
        url: `${V}/query?q=${encodeURIComponent(soql)}`,
        headers: { 'Sforce-Query-Options': 'batchSize=300' },
      });
      expect(raw.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]{15}-300$/);
      const second = await conn
        .queryMore<SfRecord>(first.nextRecordsUrl!)
        .execute({ headers: { 'Sforce-Query-Options': 'batchSize=200' } });
      expect(second.records).toHaveLength(200);
      expect(second.done).toBe(false);
      const third = await conn.queryMore<SfRecord>(second.nextRecordsUrl!);
      expect(third).toMatchObject({ done: true, totalSize: 450 });
      expect(third.records).toHaveLength(50);
      expect(third.nextRecordsUrl).toBeUndefined();
      const all = [...first.records, ...second.records, ...third.records].map((r) => r.Id);
      expect(new Set(all).size).toBe(450);

      const fetched = await conn
        .query<SfRecord>(soql, { headers: { 'Sforce-Query-Options': 'batchSize=200' } })
        .execute({ autoFetch: true, maxFetch: 1_000 });
      expect(fetched.records).toHaveLength(450);

      // The default batch is 2000, and a spent locator is refused.
      expect((await conn.query(soql)).records).toHaveLength(450);
      expect((await failure(conn.queryMore(first.nextRecordsUrl!))).errorCode).toBe('INVALID_QUERY_LOCATOR');
    });

    it('answers query errors as Salesforce does', async () => {
      const cases: [string, string, RegExp][] = [
        [
          'SELECT Id FROM Lead WHERE Description = null',
          'INVALID_FIELD',
          /field 'Description' can not be filtered/,
        ],
        [
          "SELECT Id FROM Task WHERE Description LIKE '%x%'",
          'INVALID_FIELD',
          /can not be filtered in a query call/,
        ],
        [
          "SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01T00:00:00Z'",
          'INVALID_FIELD',
          /dateTime and should not be enclosed/,
        ],
        ['SELECT Id FROM Lead WHERE Email = 5', 'INVALID_FIELD', /must be of type string/],
        ['SELECT Nope FROM Lead', 'INVALID_FIELD', /No such column 'Nope' on entity 'Lead'/],
        ['SELECT Boss.Name FROM Lead', 'INVALID_FIELD', /Didn't understand relationship 'Boss'/],
        ['SELECT Id FROM Nope__c', 'INVALID_TYPE', /sObject type 'Nope__c' is not supported/],
        ['SELECT Id FROM Lead WHERE', 'MALFORMED_QUERY', /unexpected token/],
        ['SELECT Id Lead', 'MALFORMED_QUERY', /unexpected token/],
        ['SELECT COUNT() FROM Lead', 'MALFORMED_QUERY', /not supported/],
      ];
      for (const [soql, code, message] of cases) {
        const err = await failure(conn.query(soql));
        expect(err.errorCode, soql).toBe(code);
        expect(err.message, soql).toMatch(message);
      }
    });
  });

  describe('composite', () => {
    it('updates the Lead and creates its Task in one call, with references and per-subrequest headers', async () => {
      sandbox.salesforce.assignmentRuleOwner = ADMIN_USER_ID;
      const id = lead();
      const before = sandbox.salesforce.apiUsage.used;
      const { compositeResponse } = await composite({
        allOrNone: true,
        compositeRequest: [
          {
            method: 'PATCH',
            url: `${V}/sobjects/Lead/${id}`,
            referenceId: 'lead',
            body: { Status: 'Marketing Qualified', OwnerId: REP_USER_ID },
            httpHeaders: { 'Sforce-Auto-Assign': 'FALSE' },
          },
          {
            method: 'POST',
            url: `${V}/sobjects/Lead`,
            referenceId: 'newLead',
            body: { LastName: 'New', Company: 'Co', OwnerId: REP_USER_ID },
          },
          {
            method: 'POST',
            url: `${V}/sobjects/Task`,
            referenceId: 'task',
            body: {
              WhoId: '@{newLead.id}',
              OwnerId: REP_USER_ID,
              Subject: 'Follow up',
              ActivityDate: '2026-11-25',
            },
          },
          { method: 'GET', url: `${V}/sobjects/Task/@{task.id}?fields=WhoId`, referenceId: 'readTask' },
        ],
      });
      expect(sandbox.salesforce.apiUsage.used).toBe(before + 1);
      expect(compositeResponse.map((r) => [r.referenceId, r.httpStatusCode])).toEqual([
        ['lead', 204],
        ['newLead', 201],
        ['task', 201],
        ['readTask', 200],
      ]);
      expect(compositeResponse[0]!.body).toBeNull();
      const newLead = compositeResponse[1]!.body as { id: string };
      expect(compositeResponse[1]!.httpHeaders).toEqual({ Location: `${V}/sobjects/Lead/${newLead.id}` });
      expect((compositeResponse[3]!.body as { WhoId: string }).WhoId).toBe(newLead.id);

      // FALSE kept our owner; the subrequest without the header was routed by the assignment rule.
      expect(sandbox.salesforce.get('Lead', id)).toMatchObject({
        Status: 'Marketing Qualified',
        OwnerId: REP_USER_ID,
      });
      expect(sandbox.salesforce.get('Lead', newLead.id)!.OwnerId).toBe(ADMIN_USER_ID);
    });

    it('with allOrNone, a failure rolls back earlier subrequests and halts the rest; top level stays 200', async () => {
      const id = lead();
      const { compositeResponse } = await composite({
        allOrNone: true,
        compositeRequest: [
          {
            method: 'PATCH',
            url: `${V}/sobjects/Lead/${id}`,
            referenceId: 'lead',
            body: { Status: 'Sales Qualified' },
          },
          {
            method: 'POST',
            url: `${V}/sobjects/Task`,
            referenceId: 'task',
            body: { WhoId: id, Status: 'Done' },
          },
          { method: 'POST', url: `${V}/sobjects/Task`, referenceId: 'after', body: { WhoId: id } },
        ],
      });
      expect(compositeResponse.map((r) => r.httpStatusCode)).toEqual([400, 400, 400]);
      expect(compositeResponse[1]!.body).toEqual([
        {
          message: 'Status: bad value for restricted picklist field: Done',
          errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          fields: ['Status'],
        },
      ]);
      for (const i of [0, 2])
        expect(compositeResponse[i]!.body).toEqual([
          {
            errorCode: 'PROCESSING_HALTED',
            message:
              'The transaction was rolled back since another operation in the same transaction failed.',
          },
        ]);
      expect(sandbox.salesforce.get('Lead', id)!.Status).toBe('Open - Not Contacted');
      expect(sandbox.salesforce.records('Task')).toEqual([]);
    });

    it('without allOrNone, keeps what succeeded and halts only subrequests referencing a failure', async () => {
      const id = lead();
      const { compositeResponse } = await composite({
        compositeRequest: [
          { method: 'POST', url: `${V}/sobjects/Lead`, referenceId: 'bad', body: { Company: 'No name' } },
          {
            method: 'POST',
            url: `${V}/sobjects/Task`,
            referenceId: 'dependent',
            body: { WhoId: '@{bad.id}' },
          },
          { method: 'PATCH', url: `${V}/sobjects/Lead/${id}`, referenceId: 'good', body: { Title: 'CTO' } },
        ],
      });
      expect(compositeResponse.map((r) => r.httpStatusCode)).toEqual([400, 400, 204]);
      expect((compositeResponse[0]!.body as { errorCode: string }[])[0]!.errorCode).toBe(
        'REQUIRED_FIELD_MISSING',
      );
      expect((compositeResponse[1]!.body as { errorCode: string; message: string }[])[0]).toMatchObject({
        errorCode: 'PROCESSING_HALTED',
        message: expect.stringContaining(
          'Invalid reference specified. No value for bad.id found in bad',
        ) as string,
      });
      expect(sandbox.salesforce.get('Lead', id)!.Title).toBe('CTO');
    });

    it('refuses more than 25 subrequests', async () => {
      const id = lead();
      const sub = (i: number) => ({ method: 'GET', url: `${V}/sobjects/Lead/${id}`, referenceId: `r${i}` });
      const err = await failure(
        composite({ compositeRequest: Array.from({ length: 26 }, (_, i) => sub(i)) }),
      );
      expect(err.message).toMatch(/25/);
    });
  });

  describe('sObject Collections', () => {
    it('answers 200 with results in input order when some records fail', async () => {
      const ids = [lead(), lead(), lead()];
      const before = sandbox.salesforce.apiUsage.used;
      const results = (await conn.sobject('Lead').update([
        { Id: ids[0]!, Leadflow_Score__c: 10 },
        { Id: ids[1]!, Status: 'Hot' },
        { Id: ids[2]!, Leadflow_Score__c: 30 },
      ])) as SaveResult[];
      expect(sandbox.salesforce.apiUsage.used).toBe(before + 1);
      expect(results).toEqual([
        { id: ids[0], success: true, errors: [] },
        {
          success: false,
          errors: [
            {
              statusCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
              message: 'Status: bad value for restricted picklist field: Hot',
              fields: ['Status'],
            },
          ],
        },
        { id: ids[2], success: true, errors: [] },
      ]);
      expect(sandbox.salesforce.get('Lead', ids[2]!)!.Leadflow_Score__c).toBe(30);
    });

    it('with allOrNone rolls every record back', async () => {
      const ids = [lead(), lead()];
      const results = (await conn.sobject('Lead').update(
        [
          { Id: ids[0]!, Leadflow_Score__c: 10 },
          { Id: ids[1]!, OwnerId: INACTIVE_USER_ID },
        ],
        { allOrNone: true },
      )) as SaveResult[];
      expect(results.map((r) => r.errors[0]!.statusCode)).toEqual([
        'ALL_OR_NONE_OPERATION_ROLLED_BACK',
        'INACTIVE_OWNER_OR_USER',
      ]);
      expect(sandbox.salesforce.get('Lead', ids[0]!)!.Leadflow_Score__c).toBeUndefined();
    });

    it('creates mixed records and refuses more than 200', async () => {
      const results = await conn.requestPost<SaveResult[]>(`${V}/composite/sobjects`, {
        allOrNone: false,
        records: [
          { attributes: { type: 'Lead' }, LastName: 'L', Company: 'C' },
          { attributes: { type: 'Contact' }, LastName: 'C' },
        ],
      });
      expect(results.map((r) => r.id?.slice(0, 3))).toEqual(['00Q', '003']);
      const tooMany = Array.from({ length: 201 }, () => ({ Id: lead(), Leadflow_Score__c: 1 }));
      expect((await failure(conn.sobject('Lead').update(tooMany))).errorCode).toBe('EXCEEDED_ID_LIMIT');
    });
  });

  describe('limits and faults', () => {
    it('reports Sforce-Limit-Info on every answer; jsforce exposes it as limitInfo', async () => {
      sandbox.salesforce.apiUsage = { used: 100, max: 15_000 };
      await conn.query('SELECT Id FROM Lead');
      expect(conn.limitInfo).toEqual({ apiUsage: { used: 101, limit: 15_000 } });
      await failure(conn.sobject('Lead').retrieve('00Q000000000000AAA'));
      expect(conn.limitInfo.apiUsage?.used).toBe(102);
    });

    it('answers REQUEST_LIMIT_EXCEEDED when the allocation is spent or the fault is set, without counting', async () => {
      sandbox.salesforce.apiUsage = { used: 14_999, max: 15_000 };
      await conn.query('SELECT Id FROM Lead');
      const spent = await failure(conn.query('SELECT Id FROM Lead'));
      expect(spent.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
      expect(spent.message).toBe('TotalRequests Limit exceeded.');
      expect(sandbox.salesforce.apiUsage.used).toBe(15_000);

      sandbox.salesforce.apiUsage.used = 0;
      sandbox.salesforce.faults.requestLimitExceeded = 1;
      expect((await failure(conn.sobject('Lead').create({ LastName: 'A', Company: 'B' }))).errorCode).toBe(
        'REQUEST_LIMIT_EXCEEDED',
      );
      expect(sandbox.salesforce.apiUsage.used).toBe(0);
      await conn.sobject('Lead').create({ LastName: 'A', Company: 'B' });
    });

    it('fails the next record writes with UNABLE_TO_LOCK_ROW, plain or wrapped, per record in collections', async () => {
      const ids = [lead(), lead()];
      sandbox.salesforce.faults.lockRow = 1;
      const err = await failure(conn.sobject('Lead').update({ Id: ids[0]!, Title: 'x' }));
      expect(err.errorCode).toBe('UNABLE_TO_LOCK_ROW');
      expect(err.message).toMatch(/^unable to obtain exclusive access to this record/);

      sandbox.salesforce.faults.wrappedLockRow = 1;
      const results = (await conn
        .sobject('Lead')
        .update(ids.map((Id) => ({ Id, Title: 'y' })))) as SaveResult[];
      expect(results[0]!.errors[0]).toMatchObject({
        statusCode: 'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY',
        message: expect.stringContaining('UNABLE_TO_LOCK_ROW') as string,
      });
      expect(results[1]!.success).toBe(true);
    });

    it('answers 503 SERVER_UNAVAILABLE for the next requests (jsforce retries GET, not PATCH)', async () => {
      const id = lead();
      sandbox.salesforce.faults.serverError = 1;
      const patch = await failure(conn.sobject('Lead').update({ Id: id, Title: 'x' }));
      expect(patch.errorCode).toBe('SERVER_UNAVAILABLE');
      sandbox.salesforce.faults.serverError = 1;
      const calls = sandbox.calls.length;
      await conn.sobject('Lead').retrieve(id);
      expect(sandbox.calls.slice(calls).map((c) => c.status)).toEqual([503, 200]);
    });

    it('applies the shared faults (errorRate, latency) to Salesforce paths, in Salesforce shape', async () => {
      sandbox.setFaults({ errorRate: 1 });
      const res = await fetch(`${sandbox.url}${V}/sobjects/Lead/describe`, {
        headers: { Authorization: 'Bearer t' },
      });
      expect([500, 502, 503]).toContain(res.status);
      expect(res.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/15000$/);
      const body = (await res.json()) as { errorCode: string }[];
      expect(['UNKNOWN_EXCEPTION', 'SERVER_UNAVAILABLE']).toContain(body[0]!.errorCode);
      sandbox.setFaults({ errorRate: 0 });

      sandbox.setLatency(150);
      const started = Date.now();
      await conn.query('SELECT Id FROM Lead');
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      sandbox.setLatency(0);
    });

    it('lets another process set Salesforce faults and read the records over /__sandbox', async () => {
      const id = lead({ Email: 'state@x.io' });
      await fetch(`${sandbox.url}/__sandbox/salesforce/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ lockRow: 2 }),
      });
      expect(sandbox.salesforce.faults.lockRow).toBe(2);
      const state = (await (await fetch(`${sandbox.url}/__sandbox/state`)).json()) as {
        salesforce: Record<string, SfRecord[]>;
      };
      expect(state.salesforce.Lead!.map((r) => r.Id)).toEqual([id]);
      expect(state.salesforce.User!.map((r) => r.Id)).toContain(ADMIN_USER_ID);
      sandbox.reset();
      expect(sandbox.salesforce.records('Lead')).toEqual([]);
      expect(sandbox.salesforce.faults.lockRow).toBe(0);
    });
  });

  describe('auth', () => {
    it('refuses missing and revoked tokens with INVALID_SESSION_ID', async () => {
      const bare = await fetch(`${sandbox.url}${V}/query?q=SELECT+Id+FROM+Lead`);
      expect(bare.status).toBe(401);
      expect(await bare.json()).toEqual([
        { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' },
      ]);
      sandbox.salesforce.revokeToken('token-1');
      expect((await failure(conn.query('SELECT Id FROM Lead'))).errorCode).toBe('INVALID_SESSION_ID');
      expect(sandbox.salesforce.apiUsage.used).toBe(0);
    });

    it('refreshes through jsforce with the refresh token after a revoke, and after an expired session', async () => {
      sandbox.salesforce.oauth = { clientId: 'app', clientSecret: 'shh', refreshToken: 'refresh-1' };
      const oauthConn = new jsforce.Connection({
        oauth2: { clientId: 'app', clientSecret: 'shh', loginUrl: sandbox.url },
        instanceUrl: sandbox.url,
        accessToken: 'old',
        refreshToken: 'refresh-1',
        version: '62.0',
      });
      const refreshed: string[] = [];
      oauthConn.on('refresh', (token: string) => refreshed.push(token));
      sandbox.salesforce.revokeToken('old');
      lead();
      const result = await oauthConn.query('SELECT Id FROM Lead');
      expect(result.totalSize).toBe(1);
      expect(sandbox.salesforce.refreshes).toBe(1);
      expect(refreshed).toEqual([oauthConn.accessToken]);
      expect(oauthConn.accessToken).toMatch(/^00D000000000001!AQ/);
      expect(oauthConn.instanceUrl).toBe(sandbox.url);

      sandbox.salesforce.faults.invalidSession = 1;
      await oauthConn.query('SELECT Id FROM Lead');
      expect(sandbox.salesforce.refreshes).toBe(2);

      sandbox.salesforce.oauth.refreshToken = 'rotated-away';
      sandbox.salesforce.revokeToken(oauthConn.accessToken!);
      const err = await failure(oauthConn.query('SELECT Id FROM Lead'));
      expect(err.message).toBe('Unable to refresh session due to: expired access/refresh token');
      const direct = await failure(oauthConn.oauth2.refreshToken('rotated-in'));
      expect(direct.name).toBe('invalid_grant');
    });

    it('grants a JWT bearer token for a valid RS256 assertion (aud login, test or an Experience Cloud site) and refuses a forged one or one for My Domain', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const forger = generateKeyPairSync('rsa', { modulusLength: 2048 });
      sandbox.salesforce.oauth = {
        clientId: 'jwt-app',
        clientSecret: 'unused',
        username: 'integration@leadflow.example',
        jwtPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        experienceCloudUrls: ['https://acme.my.site.com/partners'],
      };
      const assertion = (claims: Record<string, unknown>, key = privateKey) => {
        const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        const unsigned = `${encode({ alg: 'RS256' })}.${encode(claims)}`;
        return `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), key).toString('base64url')}`;
      };
      const claims = {
        iss: 'jwt-app',
        sub: 'integration@leadflow.example',
        aud: 'https://login.salesforce.com',
        exp: Math.floor(Date.now() / 1000) + 180,
      };
      const grant = (jwt: string) =>
        new jsforce.OAuth2({ loginUrl: sandbox.url }).requestToken({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion: jwt,
        });

      // jsforce's refreshFn path: a JWT connection has no refresh token.
      const jwtConn = new jsforce.Connection({
        instanceUrl: sandbox.url,
        accessToken: 'stale',
        version: '62.0',
        refreshFn: (_c, callback) => {
          grant(assertion(claims)).then(
            (res) => {
              callback(null, res.access_token, res);
            },
            (err: Error) => {
              callback(err);
            },
          );
        },
      });
      sandbox.salesforce.revokeToken('stale');
      await jwtConn.query('SELECT Id FROM Lead');
      expect(sandbox.salesforce.refreshes).toBe(1);
      expect(jwtConn.accessToken).not.toBe('stale');

      const token = await grant(assertion({ ...claims, aud: 'https://test.salesforce.com' }));
      expect(token).toMatchObject({ token_type: 'Bearer', instance_url: sandbox.url, scope: 'api' });
      expect(token).not.toHaveProperty('refresh_token');
      await grant(assertion({ ...claims, aud: 'https://acme.my.site.com/partners' }));

      const refused: [string, string][] = [
        [assertion(claims, forger.privateKey), 'invalid_grant'],
        // The org's own host (My Domain, where the token is requested) is no valid audience.
        [assertion({ ...claims, aud: sandbox.url }), 'invalid_grant'],
        [assertion({ ...claims, iss: 'other-app' }), 'invalid_client_id'],
        [assertion({ ...claims, aud: 'https://evil.example' }), 'invalid_grant'],
        [assertion({ ...claims, exp: Math.floor(Date.now() / 1000) - 1 }), 'invalid_grant'],
        [assertion({ ...claims, sub: 'someone@else.example' }), 'invalid_grant'],
        ['not.a.jwt', 'invalid_grant'],
      ];
      for (const [jwt, error] of refused) expect((await failure(grant(jwt))).name).toBe(error);
      expect(sandbox.salesforce.refreshes).toBe(3);
    });
  });

  describe('Outbound Messages', () => {
    let receiver: Server;
    let receiverUrl: string;
    let received: { headers: Record<string, string | string[] | undefined>; body: string }[];
    let reply: { status: number; body: string };

    beforeAll(async () => {
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        req.on('end', () => {
          received.push({ headers: req.headers, body });
          res.writeHead(reply.status, { 'content-type': 'text/xml' }).end(reply.body);
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/webhooks/salesforce`;
    });
    afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    beforeEach(() => {
      received = [];
      reply = {
        status: 200,
        body: '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>',
      };
    });

    const message: OutboundMessage = {
      sObject: 'Lead',
      notifications: [
        { id: '04l000000000001AAA', fields: { Email: 'a&b@x.io', Id: '00Q000000000001AAA', Title: null } },
        { id: '04l000000000002AAA', fields: { Id: '00Q000000000002AAA', Company: '<Acme> "Ltd"' } },
      ],
    };

    it('POSTs the SOAP envelope Salesforce sends and sees the Ack', async () => {
      const result = await sendOutboundMessage(receiverUrl, message);
      expect(result).toMatchObject({ status: 200, acked: true });
      const [request] = received;
      expect(request!.headers['content-type']).toBe('text/xml; charset=utf-8');
      expect(request!.headers.soapaction).toBe('""');
      expect(request!.body).toContain('<notifications xmlns="http://soap.sforce.com/2005/09/outbound">');
      expect(request!.body).toContain('<SessionId xsi:nil="true"/>');
      expect(request!.body).toContain(
        '<sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">\n     <sf:Id>00Q000000000001AAA</sf:Id>',
      );
      expect(request!.body).toContain('<sf:Title xsi:nil="true"/>');
      expect(request!.body).toContain('<sf:Company>&lt;Acme&gt; &quot;Ltd&quot;</sf:Company>');

      const parsed = new XMLParser({
        removeNSPrefix: true,
        ignoreAttributes: false,
        parseTagValue: false,
      }).parse(request!.body) as {
        Envelope: {
          Body: {
            notifications: {
              OrganizationId: string;
              EnterpriseUrl: string;
              Notification: { Id: string; sObject: Record<string, unknown> }[];
            };
          };
        };
      };
      const n = parsed.Envelope.Body.notifications;
      expect(n.OrganizationId).toBe(sandbox.salesforce.orgId);
      expect(n.EnterpriseUrl).toMatch(/\/services\/Soap\/c\/62\.0\/00D000000000001$/);
      expect(n.Notification.map((x) => x.Id)).toEqual(['04l000000000001AAA', '04l000000000002AAA']);
      expect(n.Notification[0]!.sObject).toMatchObject({
        '@_type': 'sf:Lead',
        Id: '00Q000000000001AAA',
        Email: 'a&b@x.io',
      });
    });

    it('reports no Ack for an error status, a false Ack or a body without a notificationsResponse', async () => {
      for (const next of [
        { status: 500, body: reply.body },
        { status: 200, body: reply.body.replace('<Ack>true</Ack>', '<Ack>false</Ack>') },
        { status: 200, body: '<Ack>true</Ack>' },
      ]) {
        reply = next;
        expect((await sendOutboundMessage(receiverUrl, message)).acked).toBe(false);
      }
    });

    it('holds 1 to 100 notifications, each with the record Id', () => {
      const one = message.notifications[0]!;
      expect(() => outboundMessageXml({ ...message, notifications: [] })).toThrow();
      expect(() =>
        outboundMessageXml({ ...message, notifications: Array.from({ length: 101 }, () => one) }),
      ).toThrow();
      expect(() =>
        outboundMessageXml({ ...message, notifications: [{ id: '04l1', fields: { Email: 'x@y.io' } }] }),
      ).toThrow(/record Id/);
      expect(
        outboundMessageXml({ ...message, notifications: Array.from({ length: 100 }, () => one) }),
      ).toContain('<Notification>');
    });
  });
});

describe('SOQL evaluator (pure)', () => {
  const field = (
    name: string,
    type = 'string',
    extra: Partial<{ filterable: boolean; referenceTo: string[]; relationshipName: string }> = {},
  ) => ({
    name,
    type,
    filterable: true,
    referenceTo: [],
    relationshipName: null,
    ...extra,
  });
  const rows = [
    { Id: '00QSb0000000001MAA', Name: 'Ann', Score__c: 10, Active__c: true, Day__c: '2026-01-02' },
    { Id: '00QSb0000000002MAA', Name: "O'Brien", Score__c: null, Active__c: false, Day__c: null },
    { Id: '00QSb0000000003MAA', Name: '100%_done', Score__c: 30, Active__c: true, Day__c: '2026-03-01' },
  ];
  const org: SoqlOrg = {
    describe: (name) =>
      name.toLowerCase() === 'lead'
        ? {
            name: 'Lead',
            fields: [
              field('Id', 'id'),
              field('Name'),
              field('Score__c', 'double'),
              field('Active__c', 'boolean'),
              field('Day__c', 'date'),
            ],
          }
        : undefined,
    records: () => rows,
    byId: () => undefined,
  };
  const ids = (soql: string) => runSoql(soql, org, '62.0').rows.map((r) => (r.Id as string).slice(-4, -3));

  it('evaluates AND/OR/NOT with parentheses, IN and NOT IN, null semantics and escapes', () => {
    expect(ids("SELECT Id FROM lead WHERE NOT (Name = 'ann' OR Score__c > 20)")).toEqual(['2']);
    expect(ids("SELECT Id FROM Lead WHERE Name IN ('ANN', 'o\\'brien')")).toEqual(['1', '2']);
    expect(ids("SELECT Id FROM Lead WHERE Name NOT IN ('Ann')")).toEqual(['2', '3']);
    expect(ids('SELECT Id FROM Lead WHERE Score__c = null')).toEqual(['2']);
    expect(ids('SELECT Id FROM Lead WHERE Score__c != 10')).toEqual(['2', '3']);
    expect(ids('SELECT Id FROM Lead WHERE Score__c >= 10 AND Active__c = true')).toEqual(['1', '3']);
    expect(ids("SELECT Id FROM Lead WHERE Name LIKE '100\\%\\_%'")).toEqual(['3']);
    expect(ids("SELECT Id FROM Lead WHERE Name LIKE '_nn'")).toEqual(['1']);
    expect(ids('SELECT Id FROM Lead WHERE Day__c >= 2026-02-01')).toEqual(['3']);
    expect(ids("SELECT Id FROM Lead WHERE Id = '00QSb0000000003'")).toEqual(['3']);
  });

  it('orders with NULLS FIRST/LAST, then applies LIMIT and OFFSET', () => {
    expect(ids('SELECT Id FROM Lead ORDER BY Score__c')).toEqual(['2', '1', '3']);
    expect(ids('SELECT Id FROM Lead ORDER BY Score__c DESC')).toEqual(['3', '1', '2']);
    expect(ids('SELECT Id FROM Lead ORDER BY Score__c ASC NULLS LAST LIMIT 2')).toEqual(['1', '3']);
    // true before false, then 'ann' after '100%_done' descending: 1, 3, 2; skip one, take two.
    expect(ids('SELECT Id FROM Lead ORDER BY Active__c DESC, Name DESC LIMIT 2 OFFSET 1')).toEqual([
      '3',
      '2',
    ]);
  });

  it('parses datetime literals with Z, +hh:mm and +hhmm offsets as instants', () => {
    for (const literal of [
      '2026-01-01T01:00:00Z',
      '2026-01-01T02:00:00+01:00',
      '2026-01-01T01:00:00.000+0000',
    ]) {
      const where = parseSoql(`SELECT Id FROM Lead WHERE SystemModstamp > ${literal}`).where;
      expect(where).toMatchObject({ value: { type: 'datetime', value: Date.parse('2026-01-01T01:00:00Z') } });
    }
    expect(() => parseSoql("SELECT Id FROM Lead WHERE Name = 'open")).toThrow(SoqlError);
    expect(() => parseSoql('SELECT Id FROM Lead LIMIT -1')).toThrow(/non-negative/);
  });
});
