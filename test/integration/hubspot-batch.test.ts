import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isCrmError } from '../../connectors/errors.js';
import type { HubSpotConnector } from '../../connectors/hubspot/connector.js';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import type { HandoffWrite, HandoffWritten } from '../../connectors/types.js';
import { HubSpotFields } from '../../src/config/schema.js';
import { handoffMarker, type LeadRef } from '../../src/domain/index.js';
import { testScore } from '../helpers/score.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

const fields = HubSpotFields.parse({});
const OWNER = '101';

/**
 * Handoffs of many leads at once through the real SDK against the sandbox portal: they share batch
 * requests (one contact batch/update carrying stage, owner, status and scores, notes and tasks
 * batch/create, contacts batch/read), and each lead keeps what its own calls guaranteed.
 */
describe('HubSpot handoffs of many leads share batch requests', () => {
  let sandbox: Sandbox;
  let c: HubSpotConnector;
  const connect = (batching: boolean) =>
    createHubSpotConnector({ accessToken: 'batch', basePath: sandbox.url, fields, batching });
  const ref = (id: string): LeadRef => ({ crm: 'hubspot', objectType: 'contact', id });
  const seed = (n: number, stage = 'lead') => {
    const refs = Array.from({ length: n }, (_, i) => ref(String(1000 + i)));
    sandbox.seedContacts(
      refs.map((r) => ({
        id: r.id,
        properties: { email: `b${r.id}@x.io`, firstname: `B${r.id}`, lifecyclestage: stage },
      })),
    );
    return refs;
  };
  const handoff = (lead: LeadRef, over: Partial<HandoffWrite> = {}): HandoffWrite => {
    const handoffId = `hf.batch.${lead.id}`;
    return {
      lead,
      handoffId,
      stage: 'mql',
      knownStage: 'lead',
      ownerId: OWNER,
      score: testScore(64),
      note: { subject: 'Call', text: 'unused', html: `<p>Why now</p><p>${handoffMarker(handoffId)}</p>` },
      task: {
        subject: 'Call B (MQL, score 64)',
        body: `Call now\n${handoffMarker(handoffId)}`,
        dueAt: Date.UTC(2030, 0, 7, 15, 0),
        ownerId: OWNER,
        priority: 'HIGH',
        type: 'CALL',
      },
      mayExist: false,
      ...over,
    };
  };
  const calls = (path: string) => sandbox.calls.filter((x) => x.method !== 'GET' && x.path === path).length;
  const marked = (list: { properties: Record<string, string> }[], lead: LeadRef, body: string) =>
    list.filter((o) => (o.properties[body] ?? '').includes(handoffMarker(`hf.batch.${lead.id}`)));
  const handedOff = (lead: LeadRef) => {
    expect(sandbox.hubspot.contacts.get(lead.id)).toMatchObject({
      lifecyclestage: 'marketingqualifiedlead',
      hubspot_owner_id: OWNER,
      hs_lead_status: fields.leadStatus.handedOff,
      [fields.score]: '64',
    });
    expect(marked(sandbox.hubspot.notes, lead, 'hs_note_body')).toHaveLength(1);
    expect(marked(sandbox.hubspot.tasks, lead, 'hs_task_body')).toHaveLength(1);
  };
  const writeAll = (writes: HandoffWrite[]) => Promise.allSettled(writes.map((w) => c.writeHandoff!(w)));

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  beforeEach(async () => {
    sandbox.reset();
    c = connect(true);
    await c.ensureSchema();
    sandbox.calls.length = 0;
  });
  afterAll(() => sandbox.close());

  it('hands off 150 leads in a few batch requests: scores in the stage write, notes and tasks in batches of ≤ 100', async () => {
    const refs = seed(150);
    const written = await writeAll(refs.map((r) => handoff(r)));
    expect(written.every((w) => w.status === 'fulfilled')).toBe(true);
    for (const r of refs) handedOff(r);
    for (const w of written) expect((w as PromiseFulfilledResult<HandoffWritten>).value.advanced).toBe(true);
    // No score write of its own, no PATCH, no single creates: at most a lone first request and two of 100 a kind.
    expect(sandbox.calls.filter((x) => x.method === 'PATCH')).toEqual([]);
    for (const path of [
      '/crm/v3/objects/contacts/batch/update',
      '/crm/v3/objects/notes/batch/create',
      '/crm/v3/objects/tasks/batch/create',
    ])
      expect(calls(path)).toBeLessThanOrEqual(3);
    expect(calls('/crm/v3/objects/notes') + calls('/crm/v3/objects/tasks')).toBe(0);
    expect(sandbox.calls.length).toBeLessThanOrEqual(9);
  });

  it('a lone handoff goes out at once, one request of each kind', async () => {
    const [r] = seed(1);
    await c.writeHandoff!(handoff(r!));
    handedOff(r!);
    expect(sandbox.calls.map((x) => x.path).sort()).toEqual([
      '/crm/v3/objects/contacts/batch/update',
      '/crm/v3/objects/notes/batch/create',
      '/crm/v3/objects/tasks/batch/create',
    ]);
  });

  it('fails only the lead whose contact is gone (refused batch update, 207 creates); the others are handed off', async () => {
    const refs = seed(12);
    const gone = refs[5]!;
    sandbox.hubspot.contacts.delete(gone.id);
    const written = await writeAll(refs.map((r) => handoff(r)));
    written.forEach((w, i) => {
      if (i === 5) {
        expect(w.status).toBe('rejected');
        const reason = (w as PromiseRejectedResult).reason as unknown;
        expect(isCrmError(reason) && [400, 404].includes(reason.failure.status ?? 0)).toBe(true);
      } else expect(w.status).toBe('fulfilled');
    });
    for (const r of refs) if (r !== gone) handedOff(r);
    expect(sandbox.hubspot.notes.filter((n) => n.associations.some((a) => a.to.id === gone.id))).toEqual([]);
  });

  it('a lost answer to a batch create: the retries find the notes and tasks by marker in shared lookups, none twice', async () => {
    const refs = seed(40);
    sandbox.setFaults({
      loseResponse: { method: 'POST', path: '/crm/v3/objects/notes/batch/create', count: 1 },
    });
    const first = await writeAll(refs.map((r) => handoff(r)));
    const lost = refs.filter((_, i) => first[i]!.status === 'rejected');
    expect(lost.length).toBeGreaterThan(0);
    sandbox.calls.length = 0;
    const retried = await writeAll(lost.map((r) => handoff(r, { mayExist: true })));
    expect(retried.every((w) => w.status === 'fulfilled')).toBe(true);
    for (const r of refs) handedOff(r);
    for (const w of retried)
      expect((w as PromiseFulfilledResult<HandoffWritten>).value.note.created).toBe(false);
    // The lookups of all the retried leads share requests: at most 100 contacts per associations read.
    expect(calls('/crm/v4/associations/contacts/notes/batch/read')).toBeLessThanOrEqual(2);
    expect(sandbox.calls.filter((x) => x.path.startsWith('/crm/v4/objects/contacts/'))).toEqual([]);
  });

  it('the same handoff written twice at once (a stalled job run again while its first run writes): one note, one task', async () => {
    const [r] = seed(1);
    // The first run's creates are in flight when the second run asks for the same handoff (whether it
    // looks for the marker first or not, the lookup cannot see a note not yet created).
    const first = c.writeHandoff!(handoff(r!));
    const second = c.writeHandoff!(handoff(r!));
    const [a, b] = await Promise.all([first, second]);
    handedOff(r!);
    expect(b.note.id).toBe(a.note.id);
    expect(b.task?.id).toBe(a.task?.id);
  });

  it('stale stage: a contact already past MQL keeps its stage, owner and status; its scores are written', async () => {
    const refs = seed(6);
    const sales = refs[2]!;
    sandbox.hubspot.writeContact(sales.id, {
      lifecyclestage: 'customer',
      hubspot_owner_id: '900',
      hs_lead_status: 'CONNECTED',
    });
    const written = await writeAll(refs.map((r) => handoff(r)));
    const result = (written[2] as PromiseFulfilledResult<HandoffWritten>).value;
    expect(result).toMatchObject({ advanced: false, stage: 'customer' });
    expect(result.restored?.sort()).toEqual(['hs_lead_status', 'hubspot_owner_id']);
    expect(sandbox.hubspot.contacts.get(sales.id)).toMatchObject({
      lifecyclestage: 'customer',
      hubspot_owner_id: '900',
      hs_lead_status: 'CONNECTED',
      [fields.score]: '64',
    });
    for (const r of refs) if (r !== sales) handedOff(r);
  });

  it('first-touch profile reads of many leads share batch reads; a contact that is gone fails alone', async () => {
    const refs = seed(150);
    sandbox.hubspot.contacts.delete(refs[7]!.id);
    const read = await Promise.allSettled(refs.map((r) => c.readProfile(r)));
    read.forEach((p, i) => {
      const reason: unknown = p.status === 'rejected' ? p.reason : undefined;
      if (i === 7) expect(isCrmError(reason) && reason.failure.status).toBe(404);
      else
        expect((p as PromiseFulfilledResult<Record<string, unknown>>).value).toMatchObject({
          email: `b${refs[i]!.id}@x.io`,
          lifecycleStage: 'lead',
        });
    });
    expect(calls('/crm/v3/objects/contacts/batch/read')).toBeLessThanOrEqual(3);
    expect(sandbox.calls.filter((x) => x.method === 'GET')).toEqual([]);
  });

  it("with batching off there is no shared handoff write: every call is the lead's own", async () => {
    const off = connect(false);
    const [r] = seed(1);
    expect(off.writeHandoff).toBeUndefined();
    await off.readProfile(r!);
    await off.createHandoffNote(r!, 'hf.batch.x', '<p>Handoff ID: hf.batch.x</p>', false);
    expect(sandbox.calls.map((x) => `${x.method} ${x.path}`)).toEqual([
      `GET /crm/v3/objects/contacts/${r!.id}`,
      'POST /crm/v3/objects/notes',
    ]);
  });
});
