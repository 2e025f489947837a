import { describe, expect, it } from 'vitest';
import { Guardrails } from '../../src/config/schema.js';
import { LeadState, type EngagementEvent, type LeadRef } from '../../src/domain/index.js';
import { decide } from '../../src/handoff/decide.js';
import {
  describeVerdict,
  guardHandRaise,
  judgeHandRaise,
  leadWarnings,
} from '../../src/handoff/guardrails.js';
import { testScore } from '../helpers/score.js';

const defaults = Guardrails.parse({});
const withCompetitors = Guardrails.parse({ competitorDomains: ['rival.io'] });

describe('hand-raise guardrails', () => {
  it('flags competitors, students and free mailboxes, most serious first', () => {
    expect(
      leadWarnings({ email: 'kim@eu.rival.io', jobTitle: 'Marketing Intern' }, withCompetitors).map(
        (w) => w.text,
      ),
    ).toEqual(['Competitor domain (eu.rival.io)', 'Student (job title “Marketing Intern”)']);
    expect(leadWarnings({ email: 'kim@yahoo.co.uk' }, defaults).map((w) => w.kind)).toEqual(['free_email']);
    expect(leadWarnings({ email: 'kim@initech.com', jobTitle: 'Internal Comms Lead' }, defaults)).toEqual([]);
  });

  it('defaults: a student on gmail with fit under 0 is handed off at standard priority, with every reason', () => {
    const { warnings, verdict } = guardHandRaise(
      { email: 'sam@gmail.com', jobTitle: 'Student' },
      { fit: -35 },
      defaults,
    );
    expect(warnings.map((w) => w.kind)).toEqual(['student', 'free_email']);
    expect(verdict).toEqual({
      action: 'standard',
      reasons: [
        'student (job title “Student”) → standard',
        'free email (gmail.com) → standard',
        'fit -35 under the hand-raise floor 0 → standard',
      ],
    });
    expect(describeVerdict(verdict)).toMatch(
      /^Hand-raise handed off at standard priority \(threshold SLA\): student/,
    );
  });

  it('defaults: a competitor is held back; a clean lead stays urgent, whatever its fit', () => {
    const held = guardHandRaise({ email: 'kim@rival.io' }, { fit: 20 }, withCompetitors).verdict;
    expect(held).toEqual({ action: 'hold', reasons: ['competitor domain (rival.io) → hold'] });
    expect(describeVerdict(held)).toBe('Hand-raise not handed off: competitor domain (rival.io) → hold');
    expect(guardHandRaise({ email: 'grace@initech.com' }, { fit: 0 }, defaults).verdict).toEqual({
      action: 'urgent',
      reasons: [],
    });
  });

  it('the strictest rule wins, and a rule set to urgent is no reason', () => {
    const rules = Guardrails.parse({
      competitorDomains: ['rival.io'],
      handRaise: { freeEmail: 'urgent', student: 'hold', fitFloor: 10, underFitFloor: 'standard' },
    }).handRaise;
    const warnings = leadWarnings({ email: 'sam@gmail.com', jobTitle: 'PhD student' }, defaults);
    expect(judgeHandRaise(warnings, { fit: 5 }, rules)).toEqual({
      action: 'hold',
      reasons: ['student (job title “PhD student”) → hold', 'fit 5 under the hand-raise floor 10 → standard'],
    });
  });
});

describe('decide with the guardrails', () => {
  const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '42' };
  const NOW = Date.UTC(2026, 10, 24, 12);
  const demo = (id: string): { e: EngagementEvent; r: number } => ({
    e: { id, lead, type: 'demo_request', occurredAt: 1, source: 'test', properties: {} },
    r: 2,
  });
  const base = { lead, thresholds: { mql: 50, sql: 80 }, handRaiseTypes: ['demo_request'], now: NOW };
  /** A fresh lead deciding on one demo request at this score. */
  const raise = (total: number, action?: 'urgent' | 'standard' | 'hold', id = 'd1') =>
    decide({
      ...base,
      state: LeadState.parse({}),
      score: testScore(total, NOW),
      events: [demo(id)],
      handRaiseAction: action,
    });

  it('standard: still a hand-raise handoff, marked standard', () => {
    const d = raise(29, 'standard', 'd1');
    expect(d.handoff).toMatchObject({ trigger: 'hand_raise', urgency: 'standard', stage: 'mql' });
    expect(d.heldHandRaise).toBeNull();
  });

  it('hold: no handoff for the hand-raise, handled so it is not handed off later; the score still decides', () => {
    const d = raise(29, 'hold', 'd1');
    expect(d.handoff).toBeNull();
    expect(d.heldHandRaise?.id).toBe('d1');
    expect(d.state.stage).toBe('lead');
    expect(d.state.handledHandRaises).toEqual(['d1']);
    const later = decide({ ...base, state: d.state, score: testScore(29, NOW), events: [demo('d1')] });
    expect([later.handoff, later.heldHandRaise]).toEqual([null, null]);
    const crossed = raise(60, 'hold', 'd2');
    expect(crossed.handoff).toMatchObject({ trigger: 'threshold', stage: 'mql' });
    expect(crossed.handoff?.urgency).toBeUndefined();
  });

  it('urgent (the default): a hand-raise as before', () => {
    const d = raise(29);
    expect(d.handoff).toMatchObject({ trigger: 'hand_raise' });
    expect(d.handoff?.urgency).toBeUndefined();
  });
});
