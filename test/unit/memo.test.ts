import { describe, expect, it } from 'vitest';
import { labelsOf, memo } from '../../connectors/memo.js';

/** A memo over a read that answers how many reads there were, or fails while `fail` is set, on a clock of its own. */
function counted(ttlMs: number, fail: boolean) {
  const at = { now: 0, reads: 0, fail };
  const read = memo(
    () => {
      at.reads++;
      return at.fail ? Promise.reject(new Error('down')) : Promise.resolve(at.reads);
    },
    ttlMs,
    () => at.now,
  );
  return { read, at };
}

describe('memo: a rare read shared by every caller', () => {
  it('reads once within the TTL, refreshes behind the answer held after it, and keeps no failed first read', async () => {
    const { read, at } = counted(3_600_000, true);
    await expect(read()).rejects.toThrow('down');
    at.fail = false;
    expect(await read()).toBe(2);
    at.now = 3_599_999;
    expect(await read()).toBe(2);
    expect(at.reads).toBe(2);
    // Past the TTL: the answer held at once, one read behind it however many callers come meanwhile.
    at.now = 3_600_000;
    const [a, b] = await Promise.all([read(), read()]);
    expect([a, b]).toEqual([2, 2]);
    expect(at.reads).toBe(3);
    expect(await read()).toBe(3);
    expect(at.reads).toBe(3);
  });

  it('keeps the answer held when a refresh fails, and tries again a minute later', async () => {
    const { read, at } = counted(600_000, false);
    expect(await read()).toBe(1);
    at.fail = true;
    at.now = 600_000;
    expect(await read()).toBe(1);
    await Promise.resolve();
    expect(at.reads).toBe(2);
    // The failed refresh is not retried by every caller: the held answer serves until a minute has passed.
    at.now = 659_999;
    expect(await read()).toBe(1);
    expect(at.reads).toBe(2);
    at.fail = false;
    at.now = 660_000;
    expect(await read()).toBe(1);
    expect(at.reads).toBe(3);
    expect(await read()).toBe(3);
  });

  it('labels only the mapped fields whose CRM field has labelled options', () => {
    const options = new Map([
      ['hs_analytics_source', [{ value: 'ORGANIC_SEARCH', label: 'Organic Search' }]],
      ['numemployees', [{ value: '1-5', label: '' }]],
    ]);
    expect(
      labelsOf({ source: 'hs_analytics_source', companySize: 'numemployees', email: 'email' }, options),
    ).toEqual({
      source: { ORGANIC_SEARCH: 'Organic Search' },
    });
  });
});
