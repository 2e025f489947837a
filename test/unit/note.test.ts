import { describe, expect, it } from 'vitest';
import {
  containsMarker,
  handoffMarker,
  textToHtml,
  type EngagementEvent,
  type Handoff,
  type LeadRef,
} from '../../src/domain/index.js';
import { composeHandoffNote, type NoteInput } from '../../src/handoff/note.js';

const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '42' };
const NOW = Date.UTC(2026, 10, 24, 15, 0);
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const reason = (ruleId: string, kind: 'fit' | 'engagement', points: number, text: string) => ({
  ruleId,
  kind,
  points,
  reason: text,
  eventIds: [],
  capped: false,
});
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
      reason('title', 'fit', 20, 'Job title matches <VP> (+20)'),
      reason('pricing', 'engagement', 16, '2× pricing page: +16'),
      reason('size', 'fit', 10, 'Company size 50–5000 (+10)'),
      reason('click', 'engagement', 3, 'Email click (+3)'),
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
const rich: NoteInput = {
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
    sourceDetail: 'google',
    campaign: 'Q4 handoff guide',
  },
  events: [
    event('page_view', 20 * DAY, { url: 'https://a.io/blog/lead-scoring?utm_source=google' }),
    event('email_click', 9 * DAY, { url: 'https://a.io/guides/routing' }),
    event('page_view', 3 * DAY, { url: 'https://a.io/pricing' }),
    event('page_view', 2 * DAY, { url: 'https://a.io/case-studies/acme' }),
    event('form_submission', 1 * DAY, {
      form: 'Contact us',
      page: 'https://a.io/contact',
      formGuid: '9f3c2a10-0000-4000-8000-000000000001',
      firstname: 'Ada',
      company: 'Analytical Engines',
      hs_persona: 'persona_1',
      utm_campaign: 'q4',
      message: 'We lose leads between Marketo and Salesforce <b>every week</b>',
      budget: '20–50k',
      timeline: 'This quarter',
      seats: 40,
    }),
    event('page_view', 5 * HOUR, { url: 'https://a.io/pricing#plans' }),
    event('page_view', 12 * MIN, { url: 'https://a.io/pricing' }),
  ],
  owner: { id: '101', name: 'Ana Ruiz' },
  slaDueAt: NOW + 4 * HOUR,
  timeZone: 'America/New_York',
};
const sparse: NoteInput = {
  handoff: { ...handoff, score: { ...handoff.score, breakdown: [] } },
  profile: { email: 'x@y.io' },
  events: [event('page_view', 5 * MIN, { url: 'https://a.io/' })],
};
/** The bullet lines under one heading of the text version. */
const section = (text: string, title: string): string[] => {
  const block = text.split('\n\n').find((b) => b.startsWith(`${title}:\n`));
  return block ? block.split('\n').slice(1) : [];
};

describe('composeHandoffNote', () => {
  it('a rich lead: every section, with the lines a rep needs', () => {
    const { subject, text } = composeHandoffNote(rich);
    // The action first, due in the lead's own time (14:00 in New York is 19:00 in London).
    expect(subject).toBe(
      'Call Ada Lovelace (VP Engineering, Analytical Engines) — MQL at score 56 — due 19:00 their time',
    );
    expect(text.split('\n')[0]).toBe(subject);
    expect(section(text, 'Who')).toEqual([
      '- Ada Lovelace',
      '- VP Engineering at Analytical Engines',
      '- Email: ada@analytical.io',
      '- Phone: +44 20 7946 0958',
      '- Company size: 420 employees, industry: Computer software',
    ]);
    expect(section(text, 'Where')).toEqual([
      '- London, United Kingdom',
      '- Their time: Tue 15:00 at handoff (Europe/London)',
      '- Journey stage: MQL (CRM lifecycle stage: lead)',
    ]);
    expect(section(text, 'What they engaged with')).toEqual([
      '- Mostly late-stage: pricing ×3, case study (early: blog, guide)',
      '- https://a.io/pricing ×3',
      '- https://a.io/blog/lead-scoring',
      '- https://a.io/case-studies/acme',
      '- Forms: Contact us',
      '- Email clicks: https://a.io/guides/routing',
    ]);
    expect(section(text, 'When')).toEqual([
      '- First touch: 2026-11-04 10:00 EST, 20 days before handoff',
      '- Latest: 12 min before handoff (Viewed page: https://a.io/pricing)',
      '- Activity: 5 events in the last 7 days, 2 in the 30 days before',
    ]);
    // Their own words only: no ids, tracking, contact details or numbers.
    expect(section(text, 'Why (in their words)')).toEqual([
      '- Message: “We lose leads between Marketo and Salesforce <b>every week</b>”',
      '- Budget: “20–50k”',
      '- Timeline: “This quarter”',
    ]);
    expect(section(text, 'Score')).toEqual([
      '- 56/100 (fit 30, engagement 26)',
      '- Job title matches <VP> (+20)',
      '- 2× pricing page: +16',
      '- Company size 50–5000 (+10)',
      '- …and 1 more',
    ]);
    expect(section(text, 'Source')).toEqual([
      '- Original: Organic search (google)',
      '- Campaign: Q4 handoff guide',
    ]);
    expect(section(text, 'Next step')).toEqual([
      '- Call: they are evaluating (pricing/case study)',
      '- SLA due 2026-11-24 14:00 EST',
      '- Owner: Ana Ruiz',
    ]);
    // Newest first, as many as the length budget leaves room for.
    expect(section(text, 'Last 7 events (America/New_York)').slice(0, 5)).toEqual([
      '- Nov 24 09:48 Viewed page: https://a.io/pricing',
      '- Nov 24 05:00 Viewed page: https://a.io/pricing',
      '- Nov 23 10:00 Submitted form: Contact us',
      '- Nov 22 10:00 Viewed page: https://a.io/case-studies/acme',
      '- Nov 21 10:00 Viewed page: https://a.io/pricing',
    ]);
    expect(text.length).toBeLessThanOrEqual(1_800);
    expect(text).not.toMatch(/undefined|null|NaN/);
  });

  it('a sparse lead: no empty headings, no "undefined", no invented needs', () => {
    const { subject, text, html } = composeHandoffNote(sparse);
    expect(subject).toBe('Call x@y.io — MQL at score 56');
    expect(section(text, 'Who')).toEqual(['- Email: x@y.io']);
    expect(section(text, 'Where')).toEqual([
      '- Their time: unknown (no time zone or country in the CRM)',
      '- Journey stage: MQL',
    ]);
    expect(section(text, 'What they engaged with')).toEqual(['- https://a.io/']);
    expect(section(text, 'When')).toEqual([
      '- Only touch: 2026-11-24 14:55 UTC, 5 min before handoff (Viewed page: https://a.io/)',
      '- Activity: 1 event in the last 7 days, 0 in the 30 days before',
    ]);
    expect(section(text, 'Why (in their words)')).toEqual(['- No stated needs yet']);
    expect(section(text, 'Score')).toEqual(['- 56/100 (fit 30, engagement 26)']);
    expect(section(text, 'Next step')).toEqual(['- Call to qualify']);
    expect(text).not.toContain('Source:');
    expect(text).not.toMatch(/undefined|null|NaN|Owner|SLA/);
    expect(text).not.toMatch(/:\n\n/); // a heading with nothing under it
    expect(html).not.toContain('<ul></ul>');
  });

  it.each([
    ['50-100', '- Company size: 50-100 employees'],
    ['10000+', '- Company size: 10000+ employees'],
    [1200, '- Company size: 1200 employees'],
    ['1,200', '- Company size: 1,200 employees'],
    ['Enterprise', '- Company size: Enterprise'],
  ])('reads a company size of %j as %j', (companySize, line) => {
    const { text } = composeHandoffNote({ ...sparse, profile: { ...sparse.profile, companySize } });
    expect(section(text, 'Who')).toEqual(['- Email: x@y.io', line]);
  });

  it('says so when the lead wrote nothing, even on a form', () => {
    const { text } = composeHandoffNote({
      ...sparse,
      events: [event('form_submission', MIN, { form: 'Newsletter', email: 'x@y.io', consent: 'true' })],
    });
    expect(section(text, 'Why (in their words)')).toEqual(['- No stated needs yet']);
  });

  it('shows form answers verbatim, newest first, each clipped to 300 characters, at most three', () => {
    const long = 'a'.repeat(400);
    const { text } = composeHandoffNote({
      ...sparse,
      events: [
        event('form_submission', 2 * DAY, { use_case: 'Routing\nby territory', how_did_you_hear: 'podcast' }),
        event('demo_request', DAY, { message: long, needs: 'SSO' }),
      ],
    });
    const said = section(text, 'Why (in their words)');
    expect(said).toEqual([
      `- Message: “${'a'.repeat(299)}…”`,
      '- Needs: “SSO”',
      '- Use case: “Routing by territory”',
      '- …and 1 more answer',
    ]);
  });

  it('escapes everything the lead controls; only http(s) links become anchors', () => {
    const { subject, html } = composeHandoffNote({
      handoff,
      profile: { firstName: '<script>alert(1)</script>', email: 'x@y.io', company: 'A & B "Co"' },
      events: [event('form_submission', MIN, { message: '"><img src=x onerror=alert(1)>' })],
      timelineUrl: 'https://app.example/leads/42?a=1&b=2',
    });
    expect(subject).toContain('<script>alert(1)</script>'); // a plain-text field; the CRM escapes it
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('A &amp; B &quot;Co&quot;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain(
      '<a href="https://app.example/leads/42?a=1&amp;b=2">https://app.example/leads/42?a=1&amp;b=2</a>',
    );
    const tags = [...html.matchAll(/<\/?([a-z]+)/gi)].map((m) => m[1]);
    expect(new Set(tags)).toEqual(new Set(['p', 'strong', 'ul', 'li', 'a']));

    const unsafe = composeHandoffNote({ ...rich, timelineUrl: 'javascript:alert(1)' });
    expect(unsafe.html).not.toContain('<a ');
    expect(unsafe.html).toContain('Full timeline:</strong> javascript:alert(1)</p>');
    expect(unsafe.text).toContain('Full timeline: javascript:alert(1)');
  });

  it('turns the plain-text note (the rep task body) into escaped HTML with its line breaks', () => {
    const { text } = composeHandoffNote({
      handoff,
      profile: { firstName: '<img src=x onerror=alert(1)>', lastName: '<script>alert(2)</script>' },
      events: [],
    });
    const html = textToHtml(text);
    expect(html).not.toMatch(/<img|<script/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; &lt;script&gt;alert(2)&lt;/script&gt;');
    expect(html.split('<br>')).toHaveLength(text.split('\n').length);
    expect(new Set([...html.matchAll(/<\/?([a-z]+)/gi)].map((m) => m[1]))).toEqual(new Set(['br']));
  });

  it('keeps each lead-controlled value on one line, so it cannot forge headings or lines', () => {
    const { text } = composeHandoffNote({
      ...sparse,
      profile: { email: 'x@y.io', jobTitle: 'CTO\n\nNext step:\n- Ignore this lead' },
    });
    expect(section(text, 'Who')).toContain('- CTO Next step: - Ignore this lead');
    expect(text.match(/^Next step:$/gm)).toHaveLength(1);
  });

  it('shows the sections asked for, in that order, once each', () => {
    const { text, html } = composeHandoffNote({ ...rich, sections: ['next', 'who', 'next'] });
    const headings = text.split('\n').filter((l) => /^[A-Z][^:]*:$/.test(l));
    expect(headings).toEqual(['Next step:', 'Who:', 'Last 7 events (America/New_York):']);
    expect(html.indexOf('<strong>Next step</strong>')).toBeLessThan(html.indexOf('<strong>Who</strong>'));
    expect(html).not.toContain('<strong>Where</strong>');
  });

  it("shows times in the rep's time zone, UTC by default or when the zone is unknown", () => {
    const at = { ...sparse, slaDueAt: Date.UTC(2026, 6, 1, 16, 30) };
    expect(composeHandoffNote(at).text).toContain('- SLA due 2026-07-01 16:30 UTC');
    expect(composeHandoffNote({ ...at, timeZone: 'America/New_York' }).text).toContain(
      '- SLA due 2026-07-01 12:30 EDT',
    );
    const tokyo = composeHandoffNote({ ...at, timeZone: 'Asia/Tokyo' }).text;
    expect(tokyo).toContain('- SLA due 2026-07-02 01:30 GMT+9');
    expect(tokyo).toContain('Last 1 event (Asia/Tokyo):\n- Nov 24 23:55 Viewed page: https://a.io/');
    expect(composeHandoffNote({ ...at, timeZone: 'Mars/Olympus_Mons' }).text).toContain(
      '- SLA due 2026-07-01 16:30 UTC',
    );
  });

  it('stays under 1,800 characters for a very active lead: the event list and pages give way, not the sections', () => {
    const busy: NoteInput = {
      ...rich,
      events: [
        ...rich.events,
        ...Array.from({ length: 30 }, (_, i) =>
          event('page_view', (i + 1) * HOUR, {
            url: `https://a.io/docs/integrations/salesforce/field-mapping/section-${i % 8}?utm_source=x`,
          }),
        ),
        event('webinar_attended', 6 * DAY, { webinar: 'Routing leads that convert: a live teardown' }),
        event('form_submission', 4 * HOUR, { form: 'Pricing quote', message: 'q'.repeat(400) }),
      ],
    };
    const { text } = composeHandoffNote(busy);
    expect(text.length).toBeLessThanOrEqual(1_800);
    const what = section(text, 'What they engaged with');
    expect(what[0]).toBe(
      '- Mostly late-stage: docs ×30, pricing ×4, case study (early: blog, guide, webinar)',
    );
    expect(what.filter((line) => /^- …and \d+ more pages$/.test(line))).toHaveLength(1);
    expect(section(text, 'Why (in their words)')[0]).toBe(`- Message: “${'q'.repeat(299)}…”`);
    for (const title of ['Who', 'Where', 'When', 'Score', 'Source', 'Next step'])
      expect(section(text, title).length).toBeGreaterThan(0);
    const listed = /Last (\d+) events/.exec(text);
    expect(Number(listed?.[1] ?? 0)).toBeLessThan(10);

    const linked = composeHandoffNote({ ...busy, timelineUrl: 'https://app.example/leads/42' });
    expect(linked.text).toContain('\n\nFull timeline: https://app.example/leads/42\n\n');
    expect(linked.text).not.toContain('Last ');
  });

  it('tags early-stage reading and suggests content before a call', () => {
    const { text } = composeHandoffNote({
      ...sparse,
      events: [
        // Tracking parameters and what a lead wrote say nothing about the content.
        event('page_view', 3 * DAY, { url: 'https://a.io/blog/a?utm_campaign=pricing-push' }),
        event('page_view', 2 * DAY, { url: 'https://a.io/ebooks/scoring' }),
        event('form_submission', 2 * DAY, {
          form: 'Ebook download',
          message: 'What does pricing look like?',
        }),
        event('webinar_attended', DAY, { webinar: 'Intro to scoring' }),
        event('page_view', HOUR, { url: 'https://a.io/pricing' }),
      ],
    });
    expect(section(text, 'What they engaged with')[0]).toBe(
      '- Mostly early-stage: ebook ×2, blog, webinar (late: pricing)',
    );
    expect(section(text, 'What they engaged with')).toContain('- Webinars attended: Intro to scoring');
    expect(section(text, 'Next step')).toEqual(['- Email with relevant content before calling']);
  });

  it('tags evaluation as late-stage and suggests a call', () => {
    const { text } = composeHandoffNote({
      ...sparse,
      events: [
        event('page_view', 3 * DAY, { url: 'https://a.io/blog/scoring' }),
        event('page_view', 2 * DAY, { url: 'https://a.io/compare/acme-vs-us' }),
        event('page_view', DAY, { url: 'https://docs.a.io/integrations/salesforce' }),
        event('page_view', HOUR, { url: 'https://a.io/start-free-trial' }),
      ],
    });
    expect(section(text, 'What they engaged with')[0]).toBe(
      '- Mostly late-stage: comparison, docs, trial (early: blog)',
    );
    expect(section(text, 'Next step')).toEqual(['- Call: they are evaluating (comparison/docs)']);
  });

  it('a hand-raise asks for the demo to be booked within the SLA, by the owner', () => {
    const { subject, text } = composeHandoffNote({
      ...sparse,
      handoff: { ...sparse.handoff, trigger: 'hand_raise' },
      events: [
        event('page_view', DAY, { url: 'https://a.io/blog/a' }),
        event('demo_request', 2 * MIN, { form: 'Book a demo' }),
      ],
      owner: { id: '101' },
      slaDueAt: NOW + HOUR,
    });
    expect(subject).toBe('Call x@y.io — demo request — due 16:00 UTC');
    expect(section(text, 'What they engaged with')).toEqual([
      '- Mixed: late-stage demo; early-stage blog',
      '- https://a.io/blog/a',
      '- Demo requests: Book a demo',
    ]);
    expect(section(text, 'Next step')).toEqual([
      '- Call within the SLA and book the demo',
      '- SLA due 2026-11-24 16:00 UTC',
      '- Owner: ID 101',
    ]);
  });

  it('takes the source from the first event when the profile has none', () => {
    const { text } = composeHandoffNote({
      ...sparse,
      events: [
        event('page_view', 2 * DAY, { url: 'https://a.io/', utm_source: 'linkedin', utm_campaign: 'q4-abm' }),
        event('page_view', DAY, { url: 'https://a.io/', utm_source: 'newsletter' }),
      ],
    });
    // The newest campaign an event names: the later page view named none.
    expect(section(text, 'Source')).toEqual(['- Original: linkedin', '- Campaign: q4-abm']);
  });

  it("keeps a marker the lead typed from passing for a later handoff's note", () => {
    const next = 'hf.hubspot.contact.42.1.mql';
    const { text, html } = composeHandoffNote({
      ...rich,
      events: [event('form_submission', HOUR, { form: 'Contact us', message: `${handoffMarker(next)} hi` })],
    });
    expect(text).toContain('Handoff ID - hf.hubspot.contact.42.1.mql hi');
    expect(containsMarker(text, next)).toBe(false);
    expect(containsMarker(html, next)).toBe(false);
    expect(containsMarker(text, handoff.id)).toBe(true);
  });

  it('ends both versions with the handoff marker, whatever is shown', () => {
    const marker = handoffMarker(handoff.id);
    for (const input of [
      rich,
      sparse,
      { ...rich, timelineUrl: 'https://app.example/leads/42' },
      { ...rich, sections: ['score' as const] },
      { ...sparse, events: [] },
    ]) {
      const { text, html } = composeHandoffNote(input);
      expect(text.endsWith(`\n\n${marker}`)).toBe(true);
      expect(text.indexOf(marker)).toBe(text.length - marker.length);
      expect(html.endsWith(`<p>${marker}</p>`)).toBe(true);
    }
  });
});
