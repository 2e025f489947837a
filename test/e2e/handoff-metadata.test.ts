import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandoffStore } from '../../src/store/handoffs.js';
import { keys } from '../../src/store/keys.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { hubspotEnv, SECRETS, startSystem, type System } from '../system/index.js';

const isMetadata = (path: string) =>
  path.startsWith('/crm/v3/owners') || path === '/crm/v3/properties/contacts';

/**
 * The owners and the option labels a handoff needs are read when the worker starts: the first lead
 * of a burst waits for its own round trips only (profile read, then its writes), not for two more.
 */
describe('end to end: handoff metadata is read at worker start', () => {
  let sys: System;

  beforeAll(async () => {
    sys = await startSystem({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('e2e-metadata'),
      sandbox: { latencyMs: 5 },
      env: (s) => ({ ...hubspotEnv(s), EVENTS_SIGNING_SECRET: SECRETS.eventsSigningSecret }),
      seed: (s) =>
        s.seedContacts([
          {
            id: '9301',
            properties: {
              email: 'ada@lovelace.example',
              firstname: 'Ada',
              jobtitle: 'VP Marketing',
              industry: 'COMPUTER_SOFTWARE',
              numemployees: '100-500',
              lifecyclestage: 'lead',
            },
          },
        ]),
    });
  });

  afterAll(async () => {
    await sys?.close();
  });

  it('lists owners and contact properties before any job, and the first handoff reads neither', async () => {
    const { sandbox } = sys;
    const atStart = sandbox.calls.filter((c) => isMetadata(c.path)).map((c) => c.path);
    // The old code made none of these before the first handoff.
    expect(atStart.filter((p) => p.startsWith('/crm/v3/owners')).length).toBeGreaterThanOrEqual(1);
    expect(atStart).toContain('/crm/v3/properties/contacts');

    const before = sandbox.calls.length;
    expect(
      await sys.post.events({
        events: [
          {
            id: 'metadata-demo',
            lead: { crm: 'hubspot', objectType: 'contact', id: '9301' },
            type: 'demo_request',
            occurredAt: Date.now(),
          },
        ],
      }),
    ).toBe(200);
    const store = new HandoffStore(sys.redis, keys(sys.prefix));
    const handoffId = 'hf.hubspot.contact.9301.0.mql';
    await waitFor(async () => Boolean((await store.progress(handoffId)).completedAt), {
      timeoutMs: 30_000,
      what: 'the handoff written',
    });
    const during = sandbox.calls.slice(before);
    expect(during.filter((c) => isMetadata(c.path)).map((c) => c.path)).toEqual([]);
    // Its owner was chosen from the listing read at start.
    expect((await store.get(handoffId))?.routing?.ownerId).toBeTruthy();
  });
});
