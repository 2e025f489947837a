import { describe, expect, it } from 'vitest';
import { labelsOf, memo } from '../../connectors/memo.js';

describe('memo: a rare read shared by every caller', () => {
  it('reads once within the TTL, again after it, and keeps no failure', async () => {
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
    now = 3_600_000;
    expect(await read()).toBe(3);
    expect(reads).toBe(3);
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
