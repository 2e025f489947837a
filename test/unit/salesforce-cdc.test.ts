import { describe, expect, it } from 'vitest';
import { channelPollSources } from '../../connectors/salesforce/cdc.js';
import {
  RECONCILE_OVERLAP_MS,
  cdcFieldMap,
  flattenCompoundFields,
  mapCdcMessage,
} from '../../connectors/salesforce/mapping.js';
import { isInvalidReplayError, subscribeRefusal } from '../../connectors/salesforce/cdc-refusal.js';
import { SalesforceFields } from '../../src/config/schema.js';
import { PollJob } from '../../src/queue/catalog.js';

const fields = SalesforceFields.parse({});
const fieldMap = cdcFieldMap(fields);
const COMMIT = Date.parse('2026-11-24T09:48:00.000Z');
const LEAD = '00Q000000000001AAA';
const CONTACT = '003000000000001AAA';

function message(
  header: Partial<{
    entityName: string;
    recordIds: string[];
    changeType: string;
    changedFields: string[];
  }>,
  fieldValues: Record<string, unknown> = {},
  replayId = 42,
) {
  return {
    channel: '/data/LeadChangeEvent',
    data: {
      schema: 'x',
      event: { replayId },
      payload: {
        ChangeEventHeader: {
          entityName: 'Lead',
          recordIds: [LEAD],
          changeType: 'UPDATE',
          changeOrigin: 'com/salesforce/api/rest/62.0',
          transactionKey: 'tx-1',
          sequenceNumber: 3,
          commitTimestamp: COMMIT,
          commitNumber: 1,
          commitUser: '005000000000001AAA',
          ...header,
        },
        ...fieldValues,
      },
    },
  };
}

const changesOf = (outcome: ReturnType<typeof mapCdcMessage>) => {
  if (outcome.kind !== 'mapped') throw new Error(`expected mapped, got ${outcome.kind}`);
  return outcome.profile;
};

describe('CDC message mapping', () => {
  it('maps a Lead CREATE to profile changes with stable ids, the commit time and both status keys', () => {
    const outcome = mapCdcMessage(
      message(
        { changeType: 'CREATE' },
        {
          Name: { FirstName: 'Ada', LastName: 'Lovelace' },
          Email: 'ada@example.com',
          Company: 'Analytical Engines',
          NumberOfEmployees: 250,
          Status: 'Open - Not Contacted',
          LastModifiedDate: COMMIT,
        },
      ),
      fieldMap,
    );
    expect(outcome).toMatchObject({ kind: 'mapped', position: { replayId: 42, commitTimestamp: COMMIT } });
    const changes = changesOf(outcome);
    expect(Object.fromEntries(changes.map((c) => [c.field, c.value]))).toEqual({
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
      company: 'Analytical Engines',
      companySize: 250,
      leadStatus: 'Open - Not Contacted',
      lifecycleStage: 'Open - Not Contacted',
    });
    const email = changes.find((c) => c.field === 'email')!;
    expect(email).toEqual({
      id: `salesforce:cdc:tx-1:3:${LEAD}:email`,
      lead: { crm: 'salesforce', objectType: 'lead', id: LEAD },
      field: 'email',
      value: 'ada@example.com',
      occurredAt: COMMIT,
      source: 'salesforce.cdc',
    });
  });

  it('an UPDATE changes only the fields present (CometD omits nulls and unchanged fields)', () => {
    const changes = changesOf(
      mapCdcMessage(message({ changedFields: ['Title', 'LastModifiedDate'] }, { Title: 'CTO' }), fieldMap),
    );
    expect(changes.map((c) => [c.field, c.value])).toEqual([['jobTitle', 'CTO']]);
  });

  it('a field sent as null becomes a null value, not a crash', () => {
    const changes = changesOf(mapCdcMessage(message({}, { Title: null }), fieldMap));
    expect(changes.map((c) => [c.field, c.value])).toEqual([['jobTitle', null]]);
  });

  it('flattens compound fields with Salesforce component names (Address → Country, MailingAddress → MailingCountry)', () => {
    expect(
      flattenCompoundFields({
        Name: { Salutation: 'Dr.', LastName: 'Hopper' },
        Address: { Country: 'France', City: 'Paris' },
        MailingAddress: { Country: 'Germany' },
        Office__c: { Latitude: 48.8 },
        Title: 'VP',
      }),
    ).toEqual({
      Salutation: 'Dr.',
      LastName: 'Hopper',
      Country: 'France',
      City: 'Paris',
      MailingCountry: 'Germany',
      Office__Latitude__s: 48.8,
      Title: 'VP',
    });

    const lead = changesOf(
      mapCdcMessage(message({}, { Address: { Country: 'France', City: 'Paris' } }), fieldMap),
    );
    expect(lead.map((c) => [c.field, c.value])).toEqual([
      ['country', 'France'],
      ['city', 'Paris'],
    ]);

    const contact = changesOf(
      mapCdcMessage(
        message(
          { entityName: 'Contact', recordIds: [CONTACT] },
          { MailingAddress: { Country: 'Germany' }, Name: { LastName: 'Noether' } },
        ),
        fieldMap,
      ),
    );
    expect(contact.map((c) => [c.lead.objectType, c.field, c.value])).toEqual([
      ['contact', 'country', 'Germany'],
      ['contact', 'lastName', 'Noether'],
    ]);
  });

  it('maps the Contact lifecycle field to lifecycleStage (and leadStatus, mapped to the same field)', () => {
    const changes = changesOf(
      mapCdcMessage(
        message(
          { entityName: 'Contact', recordIds: [CONTACT] },
          { Leadflow_Lifecycle_Stage__c: 'Sales Qualified' },
        ),
        fieldMap,
      ),
    );
    expect(changes.map((c) => c.field).sort()).toEqual(['leadStatus', 'lifecycleStage']);
  });

  it('uses the configured field mapping', () => {
    const custom = cdcFieldMap(SalesforceFields.parse({ lead: { jobTitle: 'Job_Role__c' } }));
    const changes = changesOf(
      mapCdcMessage(message({}, { Job_Role__c: 'CFO', Title: 'unmapped now' }), custom),
    );
    expect(changes.map((c) => [c.field, c.value])).toEqual([['jobTitle', 'CFO']]);
  });

  it('one event for several records gives each record its own changes and ids', () => {
    const other = '00Q000000000002AAA';
    const changes = changesOf(
      mapCdcMessage(message({ recordIds: [LEAD, other] }, { Industry: 'Energy' }), fieldMap),
    );
    expect(changes.map((c) => c.id)).toEqual([
      `salesforce:cdc:tx-1:3:${LEAD}:industry`,
      `salesforce:cdc:tx-1:3:${other}:industry`,
    ]);
  });

  it('UNDELETE maps like CREATE; DELETE has nothing to score', () => {
    expect(
      changesOf(mapCdcMessage(message({ changeType: 'UNDELETE' }, { Title: 'CEO' }), fieldMap)),
    ).toHaveLength(1);
    expect(mapCdcMessage(message({ changeType: 'DELETE' }), fieldMap)).toEqual({
      kind: 'deleted',
      position: { replayId: 42, commitTimestamp: COMMIT },
      leads: [{ crm: 'salesforce', objectType: 'lead', id: LEAD }],
    });
  });

  it('skips entities that are not leads but keeps their position', () => {
    expect(mapCdcMessage(message({ entityName: 'Account' }, { Name: 'Acme' }), fieldMap)).toMatchObject({
      kind: 'skipped',
      position: { replayId: 42, commitTimestamp: COMMIT },
      reason: 'entity Account is not a lead',
    });
  });

  it('an unknown shape with a replay id is skipped with its position; without one it is invalid', () => {
    const unknownType = message({ changeType: 'MERGE' });
    expect(mapCdcMessage(unknownType, fieldMap)).toMatchObject({
      kind: 'skipped',
      position: { replayId: 42 },
    });
    expect(
      mapCdcMessage({ channel: '/data/LeadChangeEvent', data: { event: { replayId: 7 } } }, fieldMap),
    ).toMatchObject({ kind: 'skipped', position: { replayId: 7 } });
    for (const junk of [null, 'text', { data: {} }, { data: { event: { replayId: 'x' } } }])
      expect(mapCdcMessage(junk, fieldMap)).toEqual({ kind: 'invalid', reason: 'no replay id' });
  });

  it.each([
    ['GAP_UPDATE', 'Lead', 'leads'],
    ['GAP_CREATE', 'Contact', 'contacts'],
    ['GAP_OVERFLOW', 'Lead', 'leads'],
  ])(
    '%s on %s → a reconciliation poll of %s from a minute before the commit',
    (changeType, entityName, source) => {
      const outcome = mapCdcMessage(message({ changeType, entityName, recordIds: [] }), fieldMap);
      expect(outcome).toEqual({
        kind: 'gap',
        position: { replayId: 42, commitTimestamp: COMMIT },
        poll: { crm: 'salesforce', source, since: COMMIT - RECONCILE_OVERLAP_MS },
      });
      // The job is valid for the poll queue as it stands.
      if (outcome.kind === 'gap') expect(PollJob.parse(outcome.poll)).toEqual(outcome.poll);
    },
  );
});

describe('CDC helpers', () => {
  it('knows which poll sources a channel covers', () => {
    expect(channelPollSources('/data/LeadChangeEvent')).toEqual(['leads']);
    expect(channelPollSources('/data/ContactChangeEvent')).toEqual(['contacts']);
    expect(channelPollSources('/data/ChangeEvents')).toEqual(['leads', 'contacts']);
    expect(channelPollSources('/data/AccountChangeEvent')).toEqual([]);
    expect(channelPollSources('/event/Lead_Scored__e')).toEqual([]);
  });

  it('recognizes the subscribe error for a replay id the server no longer has', () => {
    const salesforce =
      '400::The replayId 12 you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.';
    expect(isInvalidReplayError(salesforce)).toBe(true);
    expect(isInvalidReplayError('400::Invalid replay id')).toBe(true);
    expect(
      isInvalidReplayError('400::The channel you requested to subscribe to does not exist /data/X'),
    ).toBe(false);
    expect(isInvalidReplayError('401::Authentication invalid')).toBe(false);
    expect(isInvalidReplayError('')).toBe(false);
  });

  it.each([
    [
      '/data/LeadChangeEvent',
      '403:denied_by_security_policy:subscribe_denied',
      'View All Records on Lead (or View All Data)',
    ],
    [
      '/data/Deal__ChangeEvent',
      '403::Insufficient privileges',
      'View All Records on Deal__c (or View All Data)',
    ],
    ['/data/ChangeEvents', '403:denied_by_security_policy:subscribe_denied', 'View All Data'],
  ])('a 403 on subscribing %s is a refusal naming the permission to grant', (channel, error, needs) => {
    expect(subscribeRefusal(channel, error)).toBe(
      `Salesforce refused the subscription to ${channel} (${error}): the integration user needs ${needs}`,
    );
  });

  it.each([
    '403::Unknown client',
    '403::Handshake denied',
    '401::Authentication invalid',
    '400::Invalid replay id',
    '',
  ])('%s is no permission refusal (reconnect as before)', (error) => {
    expect(subscribeRefusal('/data/LeadChangeEvent', error)).toBeUndefined();
  });
});
