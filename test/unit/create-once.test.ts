import { describe, expect, it } from 'vitest';
import { createOnce, type MarkedRecord } from '../../connectors/create-once.js';
import { handoffMarker } from '../../src/domain/index.js';

/** Pages of candidates, counting how many were read. */
function pages(...contents: MarkedRecord[][]) {
  const read = { count: 0 };
  async function* iterate() {
    for (const page of contents) {
      read.count++;
      yield await Promise.resolve(page);
    }
  }
  return { read, iterate };
}

describe('connectors/create-once.ts: find by marker, else create', () => {
  const marked = (id: string, key: string) => ({ id, body: `Why now\n${handoffMarker(key)}` });

  it('on a retry, answers the record an earlier attempt made and reads no page past it', async () => {
    const { read, iterate } = pages([marked('1', 'hf.9')], [marked('2', 'hf.1')], [marked('3', 'hf.2')]);
    const created: string[] = [];
    const record = await createOnce('hf.1', true, iterate, () => {
      created.push('x');
      return Promise.resolve('new');
    });
    expect(record).toEqual({ id: '2', created: false });
    expect(read.count).toBe(2);
    expect(created).toEqual([]);
  });

  it('an escalation key is not its handoff key: a marker must match whole', async () => {
    const { iterate } = pages([marked('1', 'hf.1.escalation.0')]);
    expect(await createOnce('hf.1', true, iterate, () => Promise.resolve('new'))).toEqual({
      id: 'new',
      created: true,
    });
  });

  it('a first attempt creates without looking', async () => {
    const { read, iterate } = pages([marked('1', 'hf.1')]);
    expect(await createOnce('hf.1', false, iterate, () => Promise.resolve('new'))).toEqual({
      id: 'new',
      created: true,
    });
    expect(read.count).toBe(0);
  });
});
