import { describe, expect, it } from 'vitest';
import type { EngagementEvent, Handoff, LeadRef } from '../../src/domain/index.js';
import { composeHandoffNote, handoffMarker } from '../../src/handoff/note.js';

const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '42' };
const NOW = Date.UTC(2026, 10, 24, 15, 0);
const MIN = 60_000;
const DAY = 86_400_000;
const handoff: Handoff = {
  id: 'hf.hubspot.contact.42.0.mql',
  lead,
  stage: 'mql',
  trigger: 'threshold',
  triggerEventId: 'e9',
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
        kind: 'fit',
        points: 20,
        reason: 'Job title matches <VP> (+20)',
        eventIds: [],
        capped: false,
      },
      {
        ruleId: 'pricing',
        kind: 'engagement',
        points: 16,
        reason: '2× pricing page: +16',
        eventIds: [],
        capped: false,
      },
      {
        ruleId: 'size',
        kind: 'fit',
        points: 10,
        reason: 'Company size 50–5000 (+10)',
        eventIds: [],
        capped: false,
      },
      {
        ruleId: 'click',
        kind: 'engagement',
        points: 3,
        reason: 'Email click (+3)',
        eventIds: [],
        capped: false,
      },
    ],
  },
};
let n = 0;
const event = (
  type: string,
  ago: number,
  properties: EngagementEvent['properties'] = {},
): EngagementEvent => ({
  id: `e${++n}`,
  lead,
  type,
  occurredAt: NOW - ago,
  source: 'test',
  properties,
});
const rich = {
  handoff,
  profile: {
    firstName: 'Ada',
    lastName: 'Lovelace',
    jobTitle: 'VP Engineering',
    company: 'Analytical Engines',
    email: 'ada@analytical.io',
    phone: '+44 20 7946 0958',
    companySize: 420,
    industry: 'COMPUTER_SOFTWARE',
    city: 'London',
    country: 'United Kingdom',
    timeZone: 'Europe/London',
    lifecycleStage: 'lead',
    source: 'ORGANIC_SEARCH',
    campaign: 'Q4 handoff guide',
  },
  events: [
    event('page_view', 20 * DAY, { url: 'https://a.io/blog/lead-scoring' }),
    event('email_click', 9 * DAY, { url: 'https://a.io/guide' }),
    event('page_view', 3 * DAY, { url: 'https://a.io/pricing' }),
    event('page_view', 2 * DAY, { url: 'https://a.io/case-studies/acme' }),
    event('form_submission', 1 * DAY, {
      form: 'Contact us',
      message: 'We lose leads between Marketo and Salesforce <b>every week</b>',
      budget: '20–50k',
    }),
    event('page_view', 12 * MIN, { url: 'https://a.io/pricing' }),
  ],
  owner: { id: '101', name: 'Ana Ruiz' },
  slaDueAt: NOW + 4 * 3_600_000,
  timeZone: 'America/New_York',
};

describe('composeHandoffNote', () => {
  it('a rich lead: who, where, what, when, their words, score, source, next step', () => {
    const { subject, text } = composeHandoffNote(rich);
    expect(subject).toBe('MQL: Ada Lovelace crossed the MQL threshold (score 56)');
    for (const line of [
      '- VP Engineering at Analytical Engines',
      '- Email: ada@analytical.io',
      '- Phone: +44 20 7946 0958',
      '- Company size: 420, COMPUTER_SOFTWARE',
      '- London, United Kingdom',
      '- Time zone: Europe/London',
      '- Journey: MQL (CRM stage lead)',
      '- Mostly late-stage (evaluating): 3 of 5 tagged touches',
      '- https://a.io/pricing ×2',
      '- https://a.io/case-studies/acme',
      '- Submitted form: Contact us',
      '- First touch 2026-11-04 10:00 EST',
      '- Latest 12 min before handoff (Viewed page: https://a.io/pricing)',
      '- 4 touches in the last 7 days, 2 in the 30 days before',
      '- Message: “We lose leads between Marketo and Salesforce <b>every week</b>”',
      '- Budget: “20–50k”',
      '- Score 56/100 (fit 30, engagement 26)',
      '- Job title matches <VP> (+20)',
      '- …and 1 more',
      '- Source: ORGANIC_SEARCH',
      '- Campaign: Q4 handoff guide',
      '- Call: they are evaluating (pricing, case studies, comparisons)',
      '- Owner: Ana Ruiz',
      '- Act by 2026-11-24 14:00 EST',
      '- 2026-11-24 09:48 EST — Viewed page: https://a.io/pricing',
    ])
      expect(text).toContain(line);
    // Readable in 30 seconds.
    expect(text.length).toBeLessThan(1_600);
  });

  it('a sparse lead: no empty headings, no "undefined", no invented needs', () => {
    const { text, html } = composeHandoffNote({
      handoff: { ...handoff, trigger: 'hand_raise', score: { ...handoff.score, breakdown: [] } },
      profile: { email: 'x@y.io' },
      events: [event('page_view', 5 * MIN, { url: 'https://a.io/' })],
    });
    expect(text).toContain('MQL: x@y.io raised their hand (score 56)');
    expect(text).toContain('In their words:\n- No stated needs yet');
    expect(text).toContain('- Call within the SLA and book the demo');
    expect(text).not.toMatch(/undefined|null|NaN/);
    expect(text).not.toMatch(/:\n\n/); // a heading with nothing under it
    expect(text).not.toContain('Source:');
    expect(html).not.toContain('<ul></ul>');
  });

  it('escapes everything the lead controls; only http(s) links become anchors', () => {
    const { html } = composeHandoffNote({
      handoff,
      profile: { firstName: '<script>alert(1)</script>', email: 'x@y.io' },
      events: [event('form_submission', MIN, { message: '"><img src=x onerror=alert(1)>' })],
      timelineUrl: 'https://app.example/leads/42',
    });
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<a href="https://app.example/leads/42">https://app.example/leads/42</a>');
    const unsafe = composeHandoffNote({ ...rich, timelineUrl: 'javascript:alert(1)' }).html;
    expect(unsafe).not.toContain('<a ');
    expect(unsafe).toContain('javascript:alert(1)');
  });

  it('shows the sections asked for, in that order', () => {
    const { text } = composeHandoffNote({ ...rich, sections: ['next', 'who'] });
    expect(text.indexOf('Next step:')).toBeLessThan(text.indexOf('Who:'));
    expect(text).not.toContain('Where:');
    expect(text).not.toContain('Why now:');
  });

  it('tags early-stage reading and suggests content first', () => {
    const { text } = composeHandoffNote({
      handoff,
      profile: {},
      events: [
        event('page_view', DAY, { url: 'https://a.io/blog/a' }),
        event('webinar_attended', DAY, { webinar: 'Intro to scoring' }),
      ],
    });
    expect(text).toContain('- Mostly early-stage (learning): 2 of 2 tagged touches');
    expect(text).toContain('- Email with content that fits what they read, then call');
  });

  it('links the full timeline when given, otherwise lists the last events; the marker is last', () => {
    const linked = composeHandoffNote({ ...rich, timelineUrl: 'https://app.example/leads/42' });
    expect(linked.text).toContain('Full timeline:\n- https://app.example/leads/42');
    expect(linked.text).not.toContain('Last 6 events');
    const listed = composeHandoffNote(rich);
    expect(listed.text).toContain('Last 6 events:');
    for (const note of [linked, listed]) {
      expect(note.text.endsWith(`\n${handoffMarker(handoff.id)}`)).toBe(true);
      expect(note.html.endsWith(`<p>${handoffMarker(handoff.id)}</p>`)).toBe(true);
    }
  });
});
