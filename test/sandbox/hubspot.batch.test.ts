import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callSandbox } from '../helpers/sandbox-call.js';
import { startSandbox, type Sandbox } from './index.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  sandbox.seedContacts(
    ['1', '2', '3'].map((id) => ({ id, properties: { email: `c${id}@x.io`, lifecyclestage: 'lead' } })),
  );
});

const call = (method: string, path: string, body?: unknown) => callSandbox(sandbox.url, method, path, body);
const ids = (body: Record<string, unknown>) => (body.results as { id: string }[]).map((r) => r.id);
const note = (contact: string, trace?: string) => ({
  properties: {
    hs_timestamp: '2030-01-07T15:00:00Z',
    hs_note_body: `<p>Handoff ID: ${trace ?? contact}</p>`,
  },
  associations: [
    { to: { id: contact }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 202 }] },
  ],
  ...(trace === undefined ? {} : { objectWriteTraceId: trace }),
});

describe('HubSpot sandbox: batch endpoints as strict as HubSpot', () => {
  it('refuses more than 100 inputs in a batch read, update or create with 400, applying nothing', async () => {
    const many = Array.from({ length: 101 }, () => ({ id: '1' }));
    for (const [path, body] of [
      ['/crm/v3/objects/contacts/batch/read', { inputs: many, properties: [] }],
      ['/crm/v3/objects/contacts/batch/update', { inputs: many.map((i) => ({ ...i, properties: {} })) }],
      ['/crm/v3/objects/notes/batch/create', { inputs: many.map(() => note('1')) }],
    ] as const) {
      const { status, body: answer } = await call('POST', path, body);
      expect([path, status, answer.category]).toEqual([path, 400, 'VALIDATION_ERROR']);
    }
    expect(sandbox.hubspot.notes).toEqual([]);
  });

  it('refuses a batch update naming a contact twice, applying none of it', async () => {
    const { status, body } = await call('POST', '/crm/v3/objects/contacts/batch/update', {
      inputs: [
        { id: '1', properties: { firstname: 'Ada' } },
        { id: '2', properties: { firstname: 'Bo' } },
        { id: '1', properties: { firstname: 'Cy' } },
      ],
    });
    expect([status, body.category, body.message]).toEqual([
      400,
      'VALIDATION_ERROR',
      'Duplicate IDs found in batch input: [1]. IDs must be unique',
    ]);
    expect(sandbox.hubspot.contacts.get('2')!.firstname).toBeUndefined();
  });

  it('answers a batch read of some missing ids 207, the others found, in another order than asked', async () => {
    const { status, body } = await call('POST', '/crm/v3/objects/contacts/batch/read', {
      inputs: [{ id: '1' }, { id: '404' }, { id: '2' }, { id: '3' }],
      properties: ['email'],
    });
    expect(status).toBe(207);
    expect(ids(body).sort()).toEqual(['1', '2', '3']);
    expect(ids(body)).not.toEqual(['1', '2', '3']);
    expect(body.errors).toEqual([
      expect.objectContaining({ category: 'OBJECT_NOT_FOUND', context: { ids: ['404'] } }),
    ]);
    const all = await call('POST', '/crm/v3/objects/contacts/batch/read', {
      inputs: [{ id: '1' }],
      properties: [],
    });
    expect([all.status, all.body.errors]).toEqual([200, undefined]);
  });

  it('creates a batch of notes 201, each result naming its input by objectWriteTraceId', async () => {
    const { status, body } = await call('POST', '/crm/v3/objects/notes/batch/create', {
      inputs: [note('1', 'hf.a'), note('2', 'hf.b')],
    });
    expect(status).toBe(201);
    const results = body.results as { id: string; objectWriteTraceId: string }[];
    expect(results.map((r) => r.objectWriteTraceId)).toEqual(['hf.b', 'hf.a']);
    expect(sandbox.hubspot.notes.map((n) => n.associations[0]!.to.id)).toEqual(['1', '2']);
  });

  it('answers 207 for an input it refuses when every input is traced, else refuses the whole batch', async () => {
    const traced = await call('POST', '/crm/v3/objects/notes/batch/create', {
      inputs: [note('1', 'hf.a'), note('404', 'hf.gone')],
    });
    expect(traced.status).toBe(207);
    expect(
      (traced.body.results as { objectWriteTraceId: string }[]).map((r) => r.objectWriteTraceId),
    ).toEqual(['hf.a']);
    expect(traced.body.errors).toEqual([
      expect.objectContaining({ category: 'VALIDATION_ERROR', context: { objectWriteTraceId: ['hf.gone'] } }),
    ]);
    const untraced = await call('POST', '/crm/v3/objects/notes/batch/create', {
      inputs: [note('2'), note('404')],
    });
    expect(untraced.status).toBe(400);
    expect(sandbox.hubspot.notes.map((n) => n.associations[0]!.to.id)).toEqual(['1']);
  });

  it("lists many contacts' associated notes in one v4 batch read, leaving out contacts with none", async () => {
    await call('POST', '/crm/v3/objects/notes/batch/create', {
      inputs: [note('1', 'a'), note('1', 'b'), note('2', 'c')],
    });
    const { status, body } = await call('POST', '/crm/v4/associations/contacts/notes/batch/read', {
      inputs: [{ id: '1' }, { id: '2' }, { id: '3' }],
    });
    expect(status).toBe(200);
    const byContact = Object.fromEntries(
      (body.results as { from: { id: string }; to: unknown[] }[]).map((r) => [r.from.id, r.to.length]),
    );
    expect(byContact).toEqual({ '1': 2, '2': 1 });
  });
});
