import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coalescer, type ItemOutcome } from '../../connectors/coalesce.js';

/** A send whose answers the test releases by hand, recording every batch it was given. */
function controlledSend<I>() {
  const batches: I[][] = [];
  const pending: (() => void)[] = [];
  const send = (items: I[]) => {
    batches.push(items);
    return new Promise<ItemOutcome<I>[]>((resolve) =>
      pending.push(() => resolve(items.map((value) => ({ ok: true, value })))),
    );
  };
  const answerNext = async () => {
    pending.shift()?.();
    // Let the resolutions and the follow-up flush run.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { batches, send, answerNext };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('Coalescer', () => {
  it('sends a lone item at once, alone', async () => {
    const c = controlledSend<number>();
    const coalescer = new Coalescer({ max: 100, send: c.send });
    const done = coalescer.submit(1);
    await settle();
    expect(c.batches).toEqual([[1]]);
    await c.answerNext();
    await expect(done).resolves.toBe(1);
  });

  it('items of the same turn share the first request', async () => {
    const c = controlledSend<number>();
    const coalescer = new Coalescer({ max: 100, send: c.send });
    const all = Promise.all([1, 2, 3].map((n) => coalescer.submit(n)));
    await settle();
    expect(c.batches).toEqual([[1, 2, 3]]);
    await c.answerNext();
    await expect(all).resolves.toEqual([1, 2, 3]);
  });

  it('gathers what arrives while a request is in flight, up to max per request', async () => {
    const c = controlledSend<number>();
    const coalescer = new Coalescer({ max: 3, send: c.send });
    const results = [coalescer.submit(0)];
    await settle();
    for (let n = 1; n <= 7; n++) results.push(coalescer.submit(n));
    await settle();
    expect(c.batches).toEqual([[0]]);
    expect(coalescer.backlog).toBe(7);
    await c.answerNext();
    expect(c.batches).toEqual([[0], [1, 2, 3]]);
    await c.answerNext();
    await c.answerNext();
    expect(c.batches).toEqual([[0], [1, 2, 3], [4, 5, 6], [7]]);
    await c.answerNext();
    await expect(Promise.all(results)).resolves.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(coalescer.backlog).toBe(0);
  });

  it('never puts two items with the same key in one request', async () => {
    const c = controlledSend<{ id: string; n: number }>();
    const coalescer = new Coalescer({ max: 100, send: c.send, keyOf: (i) => i.id });
    void coalescer.submit({ id: 'a', n: 1 });
    void coalescer.submit({ id: 'a', n: 2 });
    void coalescer.submit({ id: 'b', n: 3 });
    await settle();
    expect(c.batches.map((b) => b.map((i) => i.n))).toEqual([[1, 3]]);
    await c.answerNext();
    expect(c.batches.map((b) => b.map((i) => i.n))).toEqual([[1, 3], [2]]);
  });

  it('an item failure is that item’s; a failed request fails its whole batch and no other', async () => {
    let call = 0;
    const coalescer = new Coalescer<number, number>({
      max: 2,
      maxInFlight: 2,
      send: (items) => {
        call++;
        if (call === 2) return Promise.reject(new Error('network'));
        return Promise.resolve(
          items.map((n): ItemOutcome<number> =>
            n === 2 ? { ok: false, error: new Error('bad 2') } : { ok: true, value: n },
          ),
        );
      },
    });
    const [one, two, three, four] = [1, 2, 3, 4].map((n) => coalescer.submit(n));
    await expect(one).resolves.toBe(1);
    await expect(two).rejects.toThrow('bad 2');
    await expect(three).rejects.toThrow('network');
    await expect(four).rejects.toThrow('network');
    await expect(coalescer.submit(5)).resolves.toBe(5);
  });

  it('an answer that does not line up with the batch fails every item of it', async () => {
    const coalescer = new Coalescer<number, number>({
      max: 10,
      send: (items) => Promise.resolve(items.slice(1).map((value) => ({ ok: true as const, value }))),
    });
    const [first, second] = [1, 2].map((n) => coalescer.submit(n));
    await expect(first).rejects.toThrow('batch answered 1 outcomes for 2 items');
    await expect(second).rejects.toThrow('batch answered 1 outcomes for 2 items');
  });

  describe('fill: under a backlog, a request waits while items keep coming', () => {
    afterEach(() => {
      vi.useRealTimers();
    });
    const fill = { quietMs: 50, maxMs: 1_000 };

    it('a lone item still goes at once', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 100, fill, send: c.send });
      void coalescer.submit(1);
      await settle();
      expect(c.batches).toEqual([[1]]);
    });

    /**
     * A backlog past its first request of gathered items: [0] went alone, [1] gathered behind it and
     * went as soon as [0] returned, `next` gathered behind [1], which has just returned.
     */
    async function intoBacklog(
      c: ReturnType<typeof controlledSend<number>>,
      coalescer: Coalescer<number, number>,
      next: number[],
    ) {
      void coalescer.submit(0);
      await settle();
      void coalescer.submit(1);
      await c.answerNext();
      for (const n of next) void coalescer.submit(n);
      await c.answerNext();
    }

    it('the backlog’s first request of gathered items goes as soon as the one before returns', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 100, fill, send: c.send });
      void coalescer.submit(0);
      await settle();
      void coalescer.submit(1);
      await c.answerNext();
      // The burst's first leads: the old code held [1] here until none joined for quietMs.
      expect(c.batches).toEqual([[0], [1]]);
    });

    it('after it, what gathered waits until none joined for quietMs, growing meanwhile', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 100, fill, send: c.send });
      await intoBacklog(c, coalescer, [2]);
      expect(c.batches).toEqual([[0], [1]]);
      await vi.advanceTimersByTimeAsync(30);
      void coalescer.submit(3);
      await settle();
      await vi.advanceTimersByTimeAsync(40);
      void coalescer.submit(4);
      await settle();
      expect(c.batches).toEqual([[0], [1]]);
      await vi.advanceTimersByTimeAsync(49);
      expect(c.batches).toEqual([[0], [1]]);
      await vi.advanceTimersByTimeAsync(1);
      expect(c.batches).toEqual([[0], [1], [2, 3, 4]]);
    });

    it('goes at once when max are waiting', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 3, fill, send: c.send });
      await intoBacklog(c, coalescer, [2]);
      expect(c.batches).toEqual([[0], [1]]);
      void coalescer.submit(3);
      void coalescer.submit(4);
      await settle();
      expect(c.batches).toEqual([[0], [1], [2, 3, 4]]);
    });

    it('waits at most maxMs however steadily items come', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 1_000, fill, send: c.send });
      await intoBacklog(c, coalescer, [2]);
      for (let n = 3; n < 40; n++) {
        await vi.advanceTimersByTimeAsync(40);
        void coalescer.submit(n);
        await settle();
        if (c.batches.length > 2) break;
      }
      expect(c.batches[2]).toEqual(Array.from({ length: 25 }, (_, i) => i + 2));
    });

    it('an item in a pause of the backlog, nothing in flight, still waits to fill', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 100, fill, send: c.send });
      await intoBacklog(c, coalescer, []);
      await vi.advanceTimersByTimeAsync(500);
      void coalescer.submit(2);
      await settle();
      await vi.advanceTimersByTimeAsync(30);
      void coalescer.submit(3);
      await settle();
      // The old code sent [2] alone at once: nothing was in flight.
      expect(c.batches).toEqual([[0], [1]]);
      await vi.advanceTimersByTimeAsync(50);
      expect(c.batches).toEqual([[0], [1], [2, 3]]);
    });

    it('once no request of the backlog ended for maxMs, a lone item goes at once, and the next backlog’s first gathered request too', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 100, fill, send: c.send });
      await intoBacklog(c, coalescer, []);
      await vi.advanceTimersByTimeAsync(1_000);
      void coalescer.submit(2);
      await settle();
      expect(c.batches).toEqual([[0], [1], [2]]);
      void coalescer.submit(3);
      await c.answerNext();
      expect(c.batches).toEqual([[0], [1], [2], [3]]);
    });
  });
});
