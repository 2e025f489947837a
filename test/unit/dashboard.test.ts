import { describe, expect, it } from 'vitest';
import { parseLeadKey, leadKey } from '../../src/domain/index.js';
import { startOfDay } from '../../src/domain/time.js';
import { displayName } from '../../src/http/admin-data.js';

describe('startOfDay', () => {
  it("is the zone's local midnight, also on days the clocks change", () => {
    // 14:30 in New York (EST, UTC−5) began at 05:00 UTC.
    expect(startOfDay('America/New_York', Date.UTC(2026, 0, 15, 19, 30))).toBe(Date.UTC(2026, 0, 15, 5));
    // Before New York's midnight it is still the previous day there.
    expect(startOfDay('America/New_York', Date.UTC(2026, 0, 16, 3))).toBe(Date.UTC(2026, 0, 15, 5));
    // 8 March 2026: EST at midnight, EDT by the afternoon.
    expect(startOfDay('America/New_York', Date.UTC(2026, 2, 8, 18))).toBe(Date.UTC(2026, 2, 8, 5));
    expect(startOfDay('UTC', Date.UTC(2026, 2, 8, 18, 1, 2, 3))).toBe(Date.UTC(2026, 2, 8));
  });
});

describe('parseLeadKey', () => {
  it('reads what leadKey writes and refuses anything else', () => {
    const lead = { crm: 'salesforce', objectType: 'lead', id: '00Q000000000001AAA' } as const;
    expect(parseLeadKey(leadKey(lead))).toEqual(lead);
    expect(parseLeadKey('hubspot.contact.500')).toEqual({ crm: 'hubspot', objectType: 'contact', id: '500' });
    for (const bad of ['', 'hubspot', 'hubspot.contact.', 'pipedrive.contact.1', 'hubspot.deal.1'])
      expect(parseLeadKey(bad)).toBeNull();
  });
});

describe('displayName', () => {
  it('is the name, else the email, else nothing', () => {
    expect(displayName({ firstName: 'Grace', lastName: 'Kim', email: 'g@x.example' })).toBe('Grace Kim');
    expect(displayName({ lastName: 'Kim' })).toBe('Kim');
    expect(displayName({ email: 'g@x.example' })).toBe('g@x.example');
    expect(displayName({})).toBeNull();
  });
});
