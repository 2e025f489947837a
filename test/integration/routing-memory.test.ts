import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { MemoryRouting } from '../../src/routing/memory.js';
import { keys } from '../../src/store/keys.js';
import { RoutingStore } from '../../src/store/routing.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const config = loadConfig('config/default.yaml');
const HOUR = 3_600_000;
const START = Date.UTC(2026, 10, 23, 8);
const day = (n: number) => new Date(START + n * 24 * HOUR).toISOString().slice(0, 10);

describe('MemoryRouting (simulate --compare) against the worker routing in Redis', () => {
  let redis: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    for (const p of prefixes) await cleanPrefix(redis, p);
    redis.disconnect();
  });

  it('picks the same owner for every handoff: weights, daily and weekly caps, absences, catch-up, account owners', async () => {
    const lead = fc.record({
      country: fc.constantFrom('Canada', 'Germany', 'Brazil', 'United States'),
      // Mostly free mail (round robin every time), some companies (their account owner after a pick).
      domain: fc.constantFrom('gmail.com', 'gmail.com', 'gmail.com', 'gmail.com', 'a.io', 'b.io'),
      hours: fc.constantFrom(0, 1, 2, 3, 24, 48),
    });
    const setup = fc.record({
      weights: fc.tuple(...[0, 1, 2, 3].map(() => fc.constantFrom(1, 2, 3))),
      daily: fc.tuple(...[0, 1, 2, 3].map(() => fc.constantFrom(undefined, 1, 2, 4))),
      weekly: fc.tuple(...[0, 1, 2, 3].map(() => fc.constantFrom(undefined, 3, 6))),
      /** Out of office for two days from this day of the run (a rep back from absence is behind). */
      away: fc.tuple(...[0, 1, 2, 3].map(() => fc.constantFrom(undefined, 0, 1, 3))),
      catchUp: fc.constantFrom('skip' as const, 'catch_up' as const),
      leads: fc.array(lead, { minLength: 1, maxLength: 60 }),
    });
    await fc.assert(
      fc.asyncProperty(setup, async (s) => {
        const routing = {
          ...config.routing,
          catchUp: s.catchUp,
          reps: config.routing.reps.map((r, i) => ({
            ...r,
            weight: s.weights[i]!,
            capacity: { daily: s.daily[i], weekly: s.weekly[i] },
            outOfOffice: s.away[i] === undefined ? [] : [{ from: day(s.away[i]), to: day(s.away[i] + 1) }],
          })),
        };
        const prefix = uniquePrefix('rr-memory');
        prefixes.push(prefix);
        const store = new RoutingStore(redis, keys(prefix));
        const memory = new MemoryRouting(routing, config.sla.workingHours.timeZone);
        let now = START;
        for (const l of s.leads) {
          now += l.hours * HOUR;
          const profile = { country: l.country, email: `x@${l.domain}` };
          const input = {
            profile,
            routing,
            now,
            exclude: [],
            defaultTimeZone: config.sla.workingHours.timeZone,
          };
          expect(memory.route(profile, now)).toBe((await store.route(input)).ownerId);
        }
      }),
      // A fixed seed: the same sequences on every run.
      { numRuns: 150, seed: 7 },
    );
  });
});
