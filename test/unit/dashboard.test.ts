import { describe, expect, it } from 'vitest';
import { parseLeadKey, leadKey } from '../../src/domain/index.js';
import { startOfDay } from '../../src/domain/time.js';
import { displayName } from '../../src/http/admin-data.js';
import { slaClock } from '../../src/http/lead-data.js';

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

describe('slaClock', () => {
  const due = 1_000_000;
  it('runs to the task due time, then is overdue until the breach is recorded', () => {
    expect(slaClock({}, due, due - 60_000)).toMatchObject({ state: 'running', remainingMs: 60_000 });
    expect(slaClock({}, due, due + 1)).toMatchObject({ state: 'overdue', remainingMs: -1 });
    expect(slaClock({ 'breach.0': String(due) }, due, due + 1)).toMatchObject({
      state: 'breached',
      breaches: 1,
      remainingMs: null,
    });
  });
  it("restarts on a reassignment's round, and stops at the first rep action", () => {
    const reassigned = { 'breach.0': String(due), 'due.1': String(due + 3_600_000) };
    expect(slaClock(reassigned, due, due + 60_000)).toMatchObject({
      state: 'running',
      dueAt: due + 3_600_000,
      breaches: 1,
    });
    expect(slaClock({ ...reassigned, actedAt: String(due + 5), actedWhat: 'call' }, due, due + 1e9)).toEqual({
      state: 'acted',
      dueAt: due + 3_600_000,
      remainingMs: null,
      actedAt: due + 5,
      actedWhat: 'call',
      breaches: 1,
    });
  });
});
