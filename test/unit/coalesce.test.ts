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

    it('what gathered meanwhile waits until none joined for quietMs, growing meanwhile', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 100, fill, send: c.send });
      void coalescer.submit(0);
      await settle();
      void coalescer.submit(1);
      await c.answerNext();
      // The old code sent [1] here, as soon as the first request returned.
      expect(c.batches).toEqual([[0]]);
      await vi.advanceTimersByTimeAsync(30);
      void coalescer.submit(2);
      await settle();
      await vi.advanceTimersByTimeAsync(40);
      void coalescer.submit(3);
      await settle();
      expect(c.batches).toEqual([[0]]);
      await vi.advanceTimersByTimeAsync(49);
      expect(c.batches).toEqual([[0]]);
      await vi.advanceTimersByTimeAsync(1);
      expect(c.batches).toEqual([[0], [1, 2, 3]]);
    });

    it('goes at once when max are waiting', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 3, fill, send: c.send });
      void coalescer.submit(0);
      await settle();
      void coalescer.submit(1);
      await c.answerNext();
      expect(c.batches).toEqual([[0]]);
      void coalescer.submit(2);
      void coalescer.submit(3);
      await settle();
      expect(c.batches).toEqual([[0], [1, 2, 3]]);
    });

    it('waits at most maxMs however steadily items come', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 1_000, fill, send: c.send });
      void coalescer.submit(0);
      await settle();
      void coalescer.submit(1);
      await c.answerNext();
      for (let n = 2; n < 40; n++) {
        await vi.advanceTimersByTimeAsync(40);
        void coalescer.submit(n);
        await settle();
        if (c.batches.length > 1) break;
      }
      expect(c.batches[1]).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    });

    it('once the backlog is gone, the next lone item goes at once again', async () => {
      vi.useFakeTimers();
      const c = controlledSend<number>();
      const coalescer = new Coalescer({ max: 100, fill, send: c.send });
      void coalescer.submit(0);
      await settle();
      void coalescer.submit(1);
      await c.answerNext();
      await vi.advanceTimersByTimeAsync(50);
      expect(c.batches).toEqual([[0], [1]]);
      await c.answerNext();
      void coalescer.submit(2);
      await settle();
      expect(c.batches).toEqual([[0], [1], [2]]);
    });
  });
});
