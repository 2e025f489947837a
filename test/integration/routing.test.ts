import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Routing } from '../../src/config/schema.js';
import type { Candidate } from '../../src/routing/index.js';
import { keys } from '../../src/store/keys.js';
import { RoutingStore } from '../../src/store/routing.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const candidate = (id: string, over: Partial<Candidate> = {}): Candidate => ({
  id,
  weight: 1,
  day: 'd:2026-11-24',
  week: 'w:2026-W48',
  ...over,
});
const tally = (ids: (string | null)[]) => {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id ?? 'none'] = (counts[id ?? 'none'] ?? 0) + 1;
  return counts;
};

describe('round robin in Redis (atomic, shared by every worker)', () => {
  const prefix = uniquePrefix('routing');
  let a: Redis;
  let b: Redis;
  let one: RoutingStore;
  let two: RoutingStore;

  beforeAll(() => {
    a = testRedis();
    b = testRedis();
    // Two connections stand for two worker processes.
    one = new RoutingStore(a, keys(prefix));
    two = new RoutingStore(b, keys(prefix));
  });
  afterAll(async () => {
    await cleanPrefix(a, prefix);
    a.disconnect();
    b.disconnect();
  });

  it('10,000 assignments by two concurrent workers: exactly 2,500 each, none lost or doubled', async () => {
    const pool = ['1', '2', '3', '4'].map((id) => candidate(id));
    const worker = async (store: RoutingStore) => {
      const picked: (string | null)[] = [];
      // 25 in flight per worker, 5,000 each.
      await Promise.all(
        Array.from({ length: 25 }, async () => {
          for (let i = 0; i < 200; i++) picked.push((await store.assign('fair', pool, 'skip')).repId);
        }),
      );
      return picked;
    };
    const [x, y] = await Promise.all([worker(one), worker(two)]);
    expect(tally([...x, ...y])).toEqual({ '1': 2500, '2': 2500, '3': 2500, '4': 2500 });
    expect([x.length, y.length]).toEqual([5000, 5000]);
    expect(Object.keys(tally(y)).length).toBe(4);
    // The capacity counters and turns agree with what was handed out: no turn was taken twice.
    const each = { '1': '2500', '2': '2500', '3': '2500', '4': '2500' };
    expect(await a.hgetall(keys(prefix).repAssigned('d:2026-11-24'))).toEqual(each);
    expect(await a.hgetall(keys(prefix).repAssigned('w:2026-W48'))).toEqual(each);
    expect(await a.hgetall(keys(prefix).routingTurns('fair'))).toEqual(each);
    expect(await a.pttl(keys(prefix).repAssigned('d:2026-11-24'))).toBeGreaterThan(7 * 86_400_000);
  });

  it('weights 1:2:1 over 4,000 assignments', async () => {
    const pool = [candidate('a'), candidate('b', { weight: 2 }), candidate('c')];
    const picked = await Promise.all(
      Array.from({ length: 4000 }, (_, i) => (i % 2 ? one : two).assign('weighted', pool, 'skip')),
    );
    expect(tally(picked.map((p) => p.repId))).toEqual({ a: 1000, b: 2000, c: 1000 });
  });

  it('a rep added mid-way gets a fair share, not a flood; the others keep their rotation', async () => {
    const four = ['1', '2', '3', '4'].map((id) => candidate(id));
    for (let i = 0; i < 400; i++) await one.assign('growing', four, 'skip');
    const five = [...four, candidate('5')];
    const next = [];
    for (let i = 0; i < 40; i++) next.push((await one.assign('growing', five, 'skip')).repId);
    expect(tally(next)).toEqual({ '1': 8, '2': 8, '3': 8, '4': 8, '5': 8 });
    // The newcomer joined the rotation first in line: 5, 1, 2, 3, 4.
    expect(next.slice(-5)).toEqual(['5', '1', '2', '3', '4']);
    // Removing reps: the rest keep their order and share evenly at once, no reset.
    const three = [candidate('1'), candidate('2'), candidate('5')];
    const after = [];
    for (let i = 0; i < 30; i++) after.push((await one.assign('growing', three, 'skip')).repId);
    expect(after.slice(0, 6)).toEqual(['5', '1', '2', '5', '1', '2']);
    expect(tally(after)).toEqual({ '1': 10, '2': 10, '5': 10 });
    // The removed reps' places are kept for when they return.
    expect(await a.hmget(keys(prefix).routingTurns('growing'), '3', '4')).toEqual(['108', '108']);
  });

  it('passes over a rep at their daily cap and reports them; everyone full → nobody', async () => {
    const pool = [
      candidate('x', { daily: 3, day: 'd:2026-12-01' }),
      candidate('y', { daily: 3, day: 'd:2026-12-01' }),
    ];
    const picked = [];
    for (let i = 0; i < 6; i++) picked.push((await one.assign('capped', pool, 'skip')).repId);
    expect(tally(picked)).toEqual({ x: 3, y: 3 });
    expect(await one.assign('capped', pool, 'skip')).toEqual({ repId: null, atCapacity: ['x', 'y'] });
    // A weekly cap counts across days.
    const weekly = [
      candidate('z', { weekly: 2, day: 'd:2026-12-02', week: 'w:2026-W49' }),
      candidate('x', { day: 'd:2026-12-02' }),
    ];
    const week = [];
    for (let i = 0; i < 6; i++) week.push(await one.assign('weekly', weekly, 'skip'));
    expect(tally(week.map((w) => w.repId))).toEqual({ z: 2, x: 4 });
    expect(week.at(-1)?.atCapacity).toEqual(['z']);
  });

  it('catch-up policy: back from absence, level with the others (skip) or owed the missed turns (catch_up)', async () => {
    for (const policy of ['skip', 'catch_up'] as const) {
      const all = ['p', 'q', 'r'].map((id) => candidate(id));
      for (let i = 0; i < 30; i++) await one.assign(`away-${policy}`, all, policy);
      // p is out for 20 assignments.
      for (let i = 0; i < 20; i++) await one.assign(`away-${policy}`, all.slice(1), policy);
      const back = [];
      for (let i = 0; i < 12; i++) back.push((await one.assign(`away-${policy}`, all, policy)).repId);
      // Starts one turn behind the others: one early turn, then plain rotation; the 10 missed are gone.
      if (policy === 'skip') expect(tally(back)).toEqual({ p: 5, q: 4, r: 3 });
      // Owed 20 turns' worth of share: p takes every turn until level (10 of them), then rotation resumes.
      else expect(back.slice(0, 10)).toEqual(Array(10).fill('p'));
    }
  });

  it('a pick asked for again under the same key returns the same rep without spending a turn', async () => {
    const pool = ['1', '2', '3'].map((id) => candidate(id, { day: 'd:2031-01-06', week: 'w:2031-W02' }));
    const first = await one.assign('memo', pool, 'skip', 'hf.a');
    // A retried job (its first attempt died after picking), from another worker.
    expect(await two.assign('memo', pool, 'skip', 'hf.a')).toEqual({ repId: first.repId, atCapacity: [] });
    const next = await one.assign('memo', pool, 'skip', 'hf.b');
    expect(next.repId).not.toBe(first.repId);
    // Counted once: the rotation continues as if the retry never happened.
    const rest = [
      await one.assign('memo', pool, 'skip', 'hf.c'),
      await one.assign('memo', pool, 'skip', 'hf.d'),
    ];
    expect(tally([first, next, ...rest].map((p) => p.repId))).toEqual({ '1': 2, '2': 1, '3': 1 });
    const day = await a.hgetall(keys(prefix).repAssigned('d:2031-01-06'));
    expect(day).toEqual({ '1': '2', '2': '1', '3': '1' });
    // The remembered rep no longer a candidate (excluded, say): a fresh pick.
    const without = pool.filter((c) => c.id !== first.repId);
    expect((await one.assign('memo', without, 'skip', 'hf.a')).repId).not.toBe(first.repId);
  });

  it('routes through the rules, remembers the account owner of a company domain, falls back', async () => {
    const routing = Routing.parse({
      reps: [
        { id: '1', name: 'Ana' },
        { id: '2', name: 'Ben' },
      ],
      rules: [
        { id: 'accounts', strategy: 'account_owner' },
        { id: 'all', strategy: 'round_robin', reps: ['1', '2'] },
      ],
      fallbackOwnerId: '9',
    });
    const route = (email: string, exclude: string[] = []) =>
      one.route({
        profile: { email },
        routing,
        now: Date.UTC(2026, 10, 24),
        exclude,
        defaultTimeZone: 'UTC',
      });
    const first = await route('ada@acme.io');
    expect(first).toMatchObject({ strategy: 'round_robin', ruleId: 'all' });
    const colleague = await route('bob@acme.io');
    expect(colleague).toMatchObject({
      strategy: 'account_owner',
      ruleId: 'accounts',
      ownerId: first.ownerId,
    });
    expect(colleague.reason).toContain('owns acme.io');
    // Personal mailboxes share no account.
    const g1 = await route('x@gmail.com');
    const g2 = await route('y@gmail.com');
    expect([g1.strategy, g2.strategy]).toEqual(['round_robin', 'round_robin']);
    expect(await route('z@acme.io', ['1', '2'])).toMatchObject({ strategy: 'fallback', ownerId: '9' });
    // The fallback owner does not take over the company.
    expect(await one.accountOwner('acme.io')).toBe(first.ownerId);
    expect(await one.accountOwner('gmail.com')).toBeNull();
  });

  it('an account owner out of office keeps the account; an inactive one hands it over', async () => {
    const reps = [
      { id: '1', name: 'Ana', outOfOffice: [{ from: '2026-11-24', to: '2026-11-24' }] },
      { id: '2', name: 'Ben' },
    ];
    const routing = (active: boolean) =>
      Routing.parse({
        reps: [{ ...reps[0], active }, reps[1]],
        rules: [
          { id: 'accounts', strategy: 'account_owner' },
          { id: 'all', strategy: 'round_robin', reps: ['1', '2'] },
        ],
      });
    const route = (now: number, active = true) =>
      one.route({
        profile: { email: 'ada@globex.io' },
        routing: routing(active),
        now,
        exclude: [],
        defaultTimeZone: 'UTC',
      });
    await one.rememberAccountOwner('globex.io', '1');
    const away = await route(Date.UTC(2026, 10, 24, 12));
    expect(away).toMatchObject({ ownerId: '2', strategy: 'round_robin' });
    expect(away.skipped).toEqual([
      { repId: '1', ruleId: 'accounts', why: 'out_of_office' },
      { repId: '1', ruleId: 'all', why: 'out_of_office' },
    ]);
    expect(away.reason).toBe(`round robin "all" (weight 1): Ben's turn; skipped Ana (out of office)`);
    expect(await one.accountOwner('globex.io')).toBe('1');
    expect(await route(Date.UTC(2026, 10, 25, 12))).toMatchObject({
      ownerId: '1',
      strategy: 'account_owner',
    });
    await route(Date.UTC(2026, 10, 25, 12), false);
    expect(await one.accountOwner('globex.io')).toBe('2');
  });

  it('reps at capacity are listed in the decision; nobody free and no fallback: unassigned', async () => {
    const routing = Routing.parse({
      reps: [{ id: '1', name: 'Ana', capacity: { daily: 1 } }],
      rules: [{ id: 'solo', strategy: 'round_robin', reps: ['1'] }],
    });
    const route = () =>
      one.route({ profile: {}, routing, now: Date.UTC(2026, 11, 9), exclude: [], defaultTimeZone: 'UTC' });
    expect(await route()).toMatchObject({ ownerId: '1', skipped: [] });
    expect(await route()).toEqual({
      ownerId: null,
      ruleId: null,
      strategy: 'none',
      reason:
        'no rule yielded an available rep and no fallback owner is set: unassigned; skipped Ana (at capacity)',
      skipped: [{ repId: '1', ruleId: 'solo', why: 'at_capacity' }],
    });
  });
});
