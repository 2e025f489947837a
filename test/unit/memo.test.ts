import { describe, expect, it } from 'vitest';
import { labelsOf, memo } from '../../connectors/memo.js';

describe('memo: a rare read shared by every caller', () => {
  it('reads once within the TTL, refreshes behind the answer held after it, and keeps no failed first read', async () => {
    let now = 0;
    let reads = 0;
    let fail = true;
    const read = memo(
      () => {
        reads++;
        return fail ? Promise.reject(new Error('down')) : Promise.resolve(reads);
      },
      3_600_000,
      () => now,
    );
    await expect(read()).rejects.toThrow('down');
    fail = false;
    expect(await read()).toBe(2);
    now = 3_599_999;
    expect(await read()).toBe(2);
    expect(reads).toBe(2);
    // Past the TTL: the answer held at once, one read behind it however many callers come meanwhile.
    now = 3_600_000;
    const [a, b] = await Promise.all([read(), read()]);
    expect([a, b]).toEqual([2, 2]);
    expect(reads).toBe(3);
    expect(await read()).toBe(3);
    expect(reads).toBe(3);
  });

  it('keeps the answer held when a refresh fails, and tries again a minute later', async () => {
    let now = 0;
    let reads = 0;
    let fail = false;
    const read = memo(
      () => {
        reads++;
        return fail ? Promise.reject(new Error('down')) : Promise.resolve(reads);
      },
      600_000,
      () => now,
    );
    expect(await read()).toBe(1);
    fail = true;
    now = 600_000;
    expect(await read()).toBe(1);
    await Promise.resolve();
    expect(reads).toBe(2);
    // The failed refresh is not retried by every caller: the held answer serves until a minute has passed.
    now = 659_999;
    expect(await read()).toBe(1);
    expect(reads).toBe(2);
    fail = false;
    now = 660_000;
    expect(await read()).toBe(1);
    expect(reads).toBe(3);
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
