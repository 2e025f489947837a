import { describe, expect, it } from 'vitest';
import type { EngagementEvent, LeadRef, Score } from '../../src/domain/index.js';
import { decide, handoffId } from '../../src/handoff/decide.js';
import { composeHandoffNote, handoffMarker } from '../../src/handoff/note.js';
import { LeadState } from '../../src/store/leads.js';

const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '42' };
const NOW = Date.UTC(2026, 10, 24, 12);
const score = (total: number): Score => ({
  fit: total / 2,
  engagement: total / 2,
  total,
  breakdown: [],
  computedAt: NOW,
});
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

describe('composeHandoffNote', () => {
  const handoff = {
    id: 'hf.hubspot.contact.42.0.mql',
    lead,
    stage: 'mql' as const,
    trigger: 'threshold' as const,
    triggerEventId: 'b',
    receivedAt: NOW,
    decidedAt: NOW,
    score: {
      fit: 30,
      engagement: 26,
      total: 56,
      computedAt: NOW,
      breakdown: [
        {
          ruleId: 'title',
          kind: 'fit' as const,
          points: 20,
          reason: 'Job title matches <VP> (+20)',
          eventIds: [],
          capped: false,
        },
        {
          ruleId: 'pricing',
          kind: 'engagement' as const,
          points: 16.04,
          reason: '2× pricing page: +16.04',
          eventIds: ['a'],
          capped: false,
        },
        {
          ruleId: 'size',
          kind: 'fit' as const,
          points: 10,
          reason: 'Company size 50–5000 (+10)',
          eventIds: [],
          capped: false,
        },
      ],
    },
  };

  it('says who, why and what happened, and carries the handoff id', () => {
    const note = composeHandoffNote({
      handoff,
      profile: {
        firstName: 'Ada',
        lastName: 'Lovelace',
        jobTitle: 'VP Engineering',
        company: 'Analytical',
        email: 'ada@an.io',
        country: 'United Kingdom',
      },
      events: [
        {
          id: 'a',
          lead,
          type: 'page_view',
          occurredAt: NOW - 3_600_000,
          source: 't',
          properties: { url: 'https://x.io/pricing' },
        },
      ],
    });
    expect(note.subject).toBe('MQL: Ada Lovelace crossed the MQL threshold (score 56)');
    expect(note.text).toContain('- VP Engineering at Analytical');
    expect(note.text).toContain('- Score 56/100 (fit 30, engagement 26)');
    expect(note.text).toContain('- Job title matches <VP> (+20)');
    expect(note.text).toContain('- 2× pricing page: +16.04');
    expect(note.text).toContain('2026-11-24 11:00 UTC — Viewed page: https://x.io/pricing');
    expect(note.text.endsWith(handoffMarker(handoff.id))).toBe(true);
    expect(note.html).toContain('Job title matches &lt;VP&gt;');
    expect(note.html).not.toContain('<VP>');
    expect(note.html).toContain(handoffMarker(handoff.id));
  });

  it('keeps a sparse lead readable without inventing anything', () => {
    const note = composeHandoffNote({
      handoff: { ...handoff, trigger: 'hand_raise' },
      profile: {},
      events: [],
    });
    expect(note.subject).toBe('MQL: Lead raised their hand (score 56)');
    expect(note.text).toContain('- No profile details yet');
    expect(note.text).toContain('- No tracked activity');
  });

  it('shows the top reasons and summarizes the rest', () => {
    const note = composeHandoffNote({ handoff, profile: {}, events: [], topReasons: 2 });
    expect(note.text).toContain('…and 1 smaller factors');
    expect(note.text).not.toContain('Company size');
  });
});
