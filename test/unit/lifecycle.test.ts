import { describe, expect, it } from 'vitest';
import { Config, Dispositions } from '../../src/config/schema.js';
import { LeadState, type EngagementEvent, type LeadRef } from '../../src/domain/index.js';
import { decide } from '../../src/handoff/decide.js';
import { testScore } from '../helpers/score.js';
import { afterDisposition, planDisposition, scoreLead } from '../../src/handoff/lifecycle.js';

const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '7' };
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 24, 12);
const score = (total: number) => testScore(total, NOW);
const demo = (id: string) => ({
  e: { id, lead, type: 'demo_request', occurredAt: NOW - 5, source: 't', properties: {} },
  r: NOW - 1,
});
const base = {
  lead,
  thresholds: { mql: 50, sql: 80 },
  hysteresis: 10,
  handRaiseTypes: ['demo_request'],
  events: [],
  now: NOW,
};
const recycled = (eligibleAt: number): LeadState => ({
  ...afterDisposition(
    LeadState.parse({ stage: 'mql' }),
    { action: 'recycle', scoreFactor: 0.5, reEligibleAfterDays: 0 },
    NOW - DAY,
  ),
  recycle: { at: NOW - DAY, factor: 0.5, eligibleAt },
});

describe('lifecycle after a disposition', () => {
  it('a recycle moves the lead back, bumps the cycle and disarms it', () => {
    const state = afterDisposition(
      LeadState.parse({ stage: 'sql', cycle: 1 }),
      { action: 'recycle', scoreFactor: 0, reEligibleAfterDays: 30 },
      NOW,
    );
    expect(state).toMatchObject({ stage: 'lead', status: 'recycled', cycle: 2, armed: false });
    expect(state.recycle).toEqual({ at: NOW, factor: 0, eligibleAt: NOW + 30 * DAY });
  });

  it('hysteresis: a recycled lead hovering at the threshold is not handed off again', () => {
    let state = recycled(NOW - DAY);
    for (const total of [55, 48, 52, 45, 51]) {
      const d = decide({ ...base, state, score: score(total) });
      expect(d.handoff).toBeNull();
      state = d.state;
    }
    // Under 50 − 10 re-arms it; crossing 50 again hands it off, with a new cycle in its id.
    state = decide({ ...base, state, score: score(39) }).state;
    expect(state.armed).toBe(true);
    const d = decide({ ...base, state, score: score(50) });
    expect(d.handoff?.id).toBe('hf.hubspot.contact.7.1.mql');
    expect(d.state.status).toBe('open');
  });

  it('no handoff before the re-eligibility date, even re-armed', () => {
    const state = { ...recycled(NOW + DAY), armed: true };
    expect(decide({ ...base, state, score: score(90) }).handoff).toBeNull();
    expect(decide({ ...base, state, score: score(90), now: NOW + DAY }).handoff?.stage).toBe('sql');
  });

  it('a hand-raise hands a recycled lead off at once', () => {
    const d = decide({ ...base, state: recycled(NOW + 30 * DAY), score: score(20), events: [demo('d1')] });
    expect(d.handoff?.trigger).toBe('hand_raise');
  });

  it('a disqualified lead is never handed off again, not even on a hand-raise', () => {
    const state = afterDisposition(LeadState.parse({ stage: 'mql' }), { action: 'disqualify' }, NOW);
    const d = decide({ ...base, state, score: score(95), events: [demo('d2')] });
    expect(d.handoff).toBeNull();
    expect(d.state.score?.total).toBe(95);
  });

  it('unmarket changes nothing in our lifecycle; bad data disqualifies', () => {
    const state = LeadState.parse({ stage: 'mql' });
    expect(afterDisposition(state, { action: 'unmarket' }, NOW)).toEqual(state);
    expect(afterDisposition(state, { action: 'bad_data' }, NOW).status).toBe('disqualified');
  });
});

describe('planDisposition', () => {
  const config = Dispositions.parse({
    statuses: ['UNQUALIFIED', 'BAD_TIMING'],
    reasons: {
      no_budget: { action: 'recycle', scoreFactor: 0.5, reEligibleAfterDays: 90 },
      competitor: { action: 'disqualify' },
      opted_out: { action: 'unmarket' },
      junk: { action: 'bad_data' },
    },
  });

  it('maps each configured reason to its action', () => {
    expect(planDisposition(config, 'BAD_TIMING', 'no_budget')).toEqual({
      action: 'recycle',
      scoreFactor: 0.5,
      reEligibleAfterDays: 90,
      reason: 'no_budget',
    });
    expect(planDisposition(config, 'UNQUALIFIED', 'competitor').action).toBe('disqualify');
    expect(planDisposition(config, 'UNQUALIFIED', 'opted_out').action).toBe('unmarket');
    expect(planDisposition(config, 'UNQUALIFIED', 'junk').action).toBe('bad_data');
  });

  it('reports unknown or missing reason codes instead of ignoring them', () => {
    expect(planDisposition(config, 'UNQUALIFIED', 'moon_phase')).toEqual({
      action: 'unknown',
      reason: 'moon_phase',
    });
    expect(planDisposition(config, 'UNQUALIFIED', null)).toEqual({ action: 'unknown', reason: null });
  });

  it('other statuses are not dispositions', () => {
    expect(planDisposition(config, 'CONNECTED', 'no_budget').action).toBe('none');
  });
});

describe('scoreLead after a recycle', () => {
  const rules = Config.parse({
    thresholds: { mql: 50, sql: 80 },
    scoring: { engagement: [{ id: 'click', event: 'email_click', points: 10 }] },
  }).scoring;
  const click = (id: string, at: number): EngagementEvent => ({
    id,
    lead,
    type: 'email_click',
    occurredAt: at,
    source: 't',
    properties: {},
  });
  const events = [click('a', NOW - 3 * DAY), click('b', NOW - 2 * DAY), click('c', NOW - 1000)];

  it('keeps the given share of earlier engagement, explained in one line', () => {
    const s = scoreLead({}, events, rules, NOW, { at: NOW - DAY, factor: 0.5, eligibleAt: 0 });
    expect(s.total).toBe(20);
    const line = s.breakdown.find((l) => l.ruleId === 'recycled');
    expect(line?.points).toBe(-10);
    expect(line?.reason).toContain('× 0.5');
    expect(s.breakdown.reduce((sum, l) => sum + l.points, 0)).toBe(20);
  });

  it('factor 0 starts over; no recycle counts everything', () => {
    expect(scoreLead({}, events, rules, NOW, { at: NOW - DAY, factor: 0, eligibleAt: 0 }).total).toBe(10);
    expect(scoreLead({}, events, rules, NOW, undefined).total).toBe(30);
  });
});
