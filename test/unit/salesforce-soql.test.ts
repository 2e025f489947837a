import { describe, expect, it } from 'vitest';
import { RECORD_ID, salesforceTime, soqlDatetime, soqlString } from '../../connectors/salesforce/soql.js';

const T0 = Date.UTC(2026, 10, 24, 9, 48);

describe('SOQL literals', () => {
  it('writes datetimes unquoted, with milliseconds only when there are some', () => {
    expect(soqlDatetime(T0)).toBe('2026-11-24T09:48:00Z');
    expect(soqlDatetime(T0 + 7)).toBe('2026-11-24T09:48:00.007Z');
  });

  it('quotes strings so that no value can end the literal or break the query', () => {
    expect(soqlString('ada@acme.io')).toBe("'ada@acme.io'");
    expect(soqlString("o'hara@acme.io")).toBe("'o\\'hara@acme.io'");
    expect(soqlString("x' OR Email != '")).toBe("'x\\' OR Email != \\''");
    expect(soqlString('back\\slash "q"')).toBe('\'back\\\\slash \\"q\\"\'');
    expect(soqlString('a\nb\tc\rd')).toBe("'a\\nb\\tc\\rd'");
  });

  it('reads Salesforce datetimes with their +0000 offset, and says NaN for anything else', () => {
    expect(salesforceTime('2026-11-24T09:48:00.000+0000')).toBe(T0);
    expect(salesforceTime('2026-11-24T10:48:00.000+0100')).toBe(T0);
    expect(salesforceTime('2026-11-24T09:48:00Z')).toBe(T0);
    expect(salesforceTime('yesterday')).toBeNaN();
  });

  it('knows 15- and 18-character record ids and nothing else', () => {
    expect(RECORD_ID.test('00Q000000000001')).toBe(true);
    expect(RECORD_ID.test('00Q000000000001AAA')).toBe(true);
    expect(RECORD_ID.test('00Q00000000001')).toBe(false);
    expect(RECORD_ID.test("00Q000000000001' OR")).toBe(false);
  });
});
