import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load.js';
import { Gate } from '../../src/queue/gate.js';
import { workerOptions } from '../../src/queue/workers.js';

const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A promise the test resolves by hand. */
function later<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Gate', () => {
  it('lets at most its places compute; a job waiting idle gives its place up, and takes one back', async () => {
    const gate = new Gate(2);
    const computing = new Set<string>();
    const crm = later<string>();
    const release: Record<string, () => void> = {};
    const job = (name: string, waitsForCrm: boolean) =>
      gate.run(true, async (slot) => {
        computing.add(name);
        if (waitsForCrm) {
          computing.delete(name);
          await slot.idle(crm.promise);
          computing.add(name);
        }
        const done = later();
        release[name] = done.resolve;
        await done.promise;
        computing.delete(name);
        return name;
      });
    const a = job('a', true);
    const b = job('b', false);
    const c = job('c', false);
    await settle();
    // a waits for the CRM without its place: b and c compute.
    expect([...computing].sort()).toEqual(['b', 'c']);
    crm.resolve('answer');
    await settle();
    // a is back from the CRM but both places are taken.
    expect([...computing].sort()).toEqual(['b', 'c']);
    release.b!();
    await settle();
    expect([...computing].sort()).toEqual(['a', 'c']);
    release.a!();
    release.c!();
    expect(await Promise.all([a, b, c])).toEqual(['a', 'b', 'c']);
  });

  it('gives a free place to urgent work first, and to a job back from the CRM before one starting', async () => {
    const gate = new Gate(1);
    const order: string[] = [];
    const hold = later();
    const crm = later();
    const first = gate.run(false, async (slot) => {
      await slot.idle(crm.promise);
      order.push('routine back from the CRM');
    });
    await settle();
    const blocker = gate.run(false, async () => {
      await hold.promise;
      order.push('blocker');
    });
    await settle();
    const routine = gate.run(false, () => Promise.resolve(order.push('routine start')));
    const urgent = gate.run(true, () => Promise.resolve(order.push('urgent start')));
    crm.resolve();
    await settle();
    hold.resolve();
    await Promise.all([first, blocker, routine, urgent]);
    expect(order).toEqual(['blocker', 'urgent start', 'routine back from the CRM', 'routine start']);
  });

  it('frees the place of a job that throws, also from a failed CRM wait', async () => {
    const gate = new Gate(1);
    await expect(gate.run(true, (slot) => slot.idle(Promise.reject(new Error('crm down'))))).rejects.toThrow(
      'crm down',
    );
    await expect(gate.run(true, () => Promise.resolve('next'))).resolves.toBe('next');
  });
});

describe('worker concurrency', () => {
  const { pipeline } = loadConfig('config/default.yaml');

  it('by default keeps enough score and writeback jobs in flight to fill a batch of 100 behind one in flight', () => {
    const opts = workerOptions(parseEnv({}), pipeline);
    expect(opts.concurrency).toEqual({ ingest: 16, score: 256, writeback: 256, followup: 16, poll: 16 });
    expect(opts.computing).toBe(16);
  });

  it('WORKER_CONCURRENCY, when set, is every queue’s', () => {
    expect(workerOptions(parseEnv({ WORKER_CONCURRENCY: '40' }), pipeline).concurrency).toBe(40);
  });
});
