import { describe, expect, it } from 'vitest';
import { cdcFieldMap } from '../../connectors/salesforce/mapping.js';
import { SalesforceFields } from '../../src/config/schema.js';
import { receiveCdcMessage } from '../../src/receive/salesforce-cdc.js';

const fieldMap = cdcFieldMap(SalesforceFields.parse({}));
const LEAD = '00Q000000000001AAA';
const RECEIVED = 1_732_000_000_000;

function message(header: Record<string, unknown>, fields: Record<string, unknown> = {}) {
  return {
    channel: '/data/LeadChangeEvent',
    data: {
      event: { replayId: 12 },
      payload: {
        ChangeEventHeader: {
          entityName: 'Lead',
          recordIds: [LEAD],
          changeType: 'UPDATE',
          commitTimestamp: RECEIVED - 500,
          transactionKey: 'tx-1',
          sequenceNumber: 3,
          ...header,
        },
        ...fields,
      },
    },
  };
}

describe('Salesforce CDC receiver', () => {
  it('turns a change event into the ingest shape, with its stream position', () => {
    const lead = { crm: 'salesforce', objectType: 'lead', id: LEAD };
    expect(receiveCdcMessage(message({}, { Title: 'CTO' }), fieldMap, RECEIVED)).toEqual({
      kind: 'mapped',
      position: { replayId: 12, commitTimestamp: RECEIVED - 500 },
      job: {
        source: 'salesforce',
        receivedAt: RECEIVED,
        batch: {
          engagement: [],
          profile: [
            {
              id: `salesforce:cdc:tx-1:3:${LEAD}:jobTitle`,
              lead,
              field: 'jobTitle',
              value: 'CTO',
              occurredAt: RECEIVED - 500,
              source: 'salesforce.cdc',
            },
          ],
          leads: [lead],
          created: [],
          deleted: [],
          merged: [],
          ignored: 0,
        },
      },
    });
  });

  it('makes no job when none of the changed fields is mapped, but still moves the position', () => {
    expect(receiveCdcMessage(message({}, { Unmapped__c: 'x' }), fieldMap, RECEIVED)).toEqual({
      kind: 'mapped',
      position: { replayId: 12, commitTimestamp: RECEIVED - 500 },
    });
  });

  it('passes on what is not a change to ingest: gaps, deletes, other entities, junk', () => {
    expect(receiveCdcMessage(message({ changeType: 'GAP_UPDATE' }), fieldMap, RECEIVED)).toMatchObject({
      kind: 'gap',
      poll: { crm: 'salesforce', source: 'leads' },
    });
    expect(receiveCdcMessage(message({ changeType: 'DELETE' }), fieldMap, RECEIVED)).toMatchObject({
      kind: 'deleted',
    });
    expect(receiveCdcMessage(message({ entityName: 'Account' }), fieldMap, RECEIVED)).toMatchObject({
      kind: 'skipped',
    });
    expect(receiveCdcMessage({ hello: 'world' }, fieldMap, RECEIVED)).toEqual({
      kind: 'invalid',
      reason: 'no replay id',
    });
  });
});
