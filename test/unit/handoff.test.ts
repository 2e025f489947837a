import { describe, expect, it } from 'vitest';
import { LeadState, type EngagementEvent, type LeadRef } from '../../src/domain/index.js';
import { decide, handoffId } from '../../src/handoff/decide.js';
import { testScore } from '../helpers/score.js';

const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '42' };
const NOW = Date.UTC(2026, 10, 24, 12);
const score = (total: number) => testScore(total, NOW);
const event = (id: string, type: string, r: number): { e: EngagementEvent; r: number } => ({
  e: { id, lead, type, occurredAt: r - 10, source: 'test', properties: {} },
  r,
});
const base = { lead, thresholds: { mql: 50, sql: 80 }, handRaiseTypes: ['demo_request'], now: NOW };

describe('decide', () => {
  it('does nothing below the MQL threshold', () => {
    const d = decide({
      ...base,
      state: LeadState.parse({}),
      score: score(49),
      events: [event('a', 'page_view', 1)],
    });
    expect(d.handoff).toBeNull();
    expect(d.state.stage).toBe('lead');
  });

  it('hands off on crossing MQL, with the latest arrival as trigger', () => {
    const events = [
      event('a', 'page_view', 100),
      event('b', 'email_click', 300),
      event('c', 'page_view', 200),
    ];
    const d = decide({ ...base, state: LeadState.parse({}), score: score(50), events });
    expect(d.handoff).toMatchObject({
      id: 'hf.hubspot.contact.42.0.mql',
      stage: 'mql',
      trigger: 'threshold',
      triggerEventId: 'b',
      receivedAt: 300,
      decidedAt: NOW,
    });
    expect(d.state.stage).toBe('mql');
  });

  it('jumps straight to SQL when the score is past both thresholds', () => {
    const d = decide({ ...base, state: LeadState.parse({}), score: score(85), events: [] });
    expect(d.handoff).toMatchObject({ stage: 'sql', receivedAt: NOW });
  });

  it('does not hand off twice while the score hovers around the threshold', () => {
    let state = LeadState.parse({});
    const ids: string[] = [];
    for (const total of [51, 49, 52, 48, 50]) {
      const d = decide({ ...base, state, score: score(total), events: [] });
      if (d.handoff) ids.push(d.handoff.id);
      state = d.state;
    }
    expect(ids).toEqual(['hf.hubspot.contact.42.0.mql']);
    expect(state.stage).toBe('mql');
  });

  it('hands off a hand-raise at once, whatever the score, and only once', () => {
    const events = [event('p', 'page_view', 1), event('demo-1', 'demo_request', 2)];
    const first = decide({ ...base, state: LeadState.parse({}), score: score(5), events });
    expect(first.handoff).toMatchObject({
      stage: 'mql',
      trigger: 'hand_raise',
      triggerEventId: 'demo-1',
      receivedAt: 2,
    });
    expect(first.state.handledHandRaises).toEqual(['demo-1']);
    const again = decide({ ...base, state: first.state, score: score(5), events });
    expect(again.handoff).toBeNull();
  });

  it('gives a recycled lead a new handoff id', () => {
    const d = decide({ ...base, state: LeadState.parse({ cycle: 2 }), score: score(60), events: [] });
    expect(d.handoff?.id).toBe(handoffId(lead, 2, 'mql'));
  });
});
