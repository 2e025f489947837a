import { describe, expect, it } from 'vitest';
import { Guardrails } from '../../src/config/schema.js';
import { handoffMarker, type EngagementEvent, type Handoff, type LeadRef } from '../../src/domain/index.js';
import { composeBrief, type BriefInput } from '../../src/handoff/brief.js';
import { guardHandRaise } from '../../src/handoff/guardrails.js';
import { composeHandoffNote } from '../../src/handoff/note.js';
import { leadZone } from '../../src/handoff/note/zone.js';
import { composeRepAlert, composeRepTask } from '../../src/handoff/task.js';
import { GRACE } from '../helpers/grace.js';
import { testScore } from '../helpers/score.js';

const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '77' };
// 09:00 in Los Angeles, 12:00 in New York.
const NOW = Date.UTC(2026, 10, 24, 17, 0);
const MIN = 60_000;
const demo: EngagementEvent = {
  id: 'd1',
  lead,
  type: 'demo_request',
  occurredAt: NOW - 2 * MIN,
  source: 'test',
  properties: { form: 'Book a demo', message: 'We need routing by territory' },
};
const handoff: Handoff = {
  id: 'hf.hubspot.contact.77.0.mql',
  lead,
  stage: 'mql',
  trigger: 'hand_raise',
  triggerEventId: 'd1',
  receivedAt: NOW,
  decidedAt: NOW,
  score: testScore(62, NOW),
};
const grace: BriefInput = {
  handoff,
  profile: {
    ...GRACE,
    industry: 'COMPUTER_SOFTWARE',
    sourceDetail: 'linkedin',
    latestSource: 'ORGANIC_SEARCH',
  },
  events: [demo],
  owner: { id: '101', name: 'Ana Ruiz' },
  slaDueAt: NOW + 15 * MIN,
  timeZone: 'America/New_York',
  labels: { source: { PAID_SOCIAL: 'Paid Social' }, latestSource: { ORGANIC_SEARCH: 'Organic Search' } },
  account: {
    domain: 'initech.com',
    ownerName: 'Ana Ruiz',
    contacts: [
      { name: 'Bill Lumbergh', title: 'VP Sales', stage: 'SQL', ownerName: 'Ana Ruiz' },
      { name: 'Peter Gibbons' },
      { name: 'Milton Waddams', title: 'Collator' },
    ],
    more: 2,
  },
};
const guardrails = Guardrails.parse({ competitorDomains: ['initrode.com'] });

describe('the brief: what a rep sees in the first ten seconds', () => {
  it('leads with the action: who, why, due in their own time', () => {
    const brief = composeBrief(grace);
    expect(brief.headline).toBe('Call Grace Kim (VP RevOps, Initech) — demo request — due 09:15 their time');
    expect(brief.phone).toBe('Phone: +1 415 555 0100');
    expect(brief.localTime).toBe('Their time: Tue 09:00 at handoff (America/Los_Angeles)');
    // The CRM's labels where it gave them; the drill-down as written.
    expect(brief.source).toEqual({
      first: 'Paid Social (linkedin)',
      latest: 'Organic Search',
      campaign: '',
    });
    expect(brief.account).toBe(
      'Account initech.com: Bill Lumbergh (VP Sales, SQL, owner Ana Ruiz), Peter Gibbons +3 more; account owner Ana Ruiz',
    );
  });

  it('names the weekday when the due time is not the same day, and the verb follows the task type', () => {
    const brief = composeBrief({
      ...grace,
      action: 'EMAIL',
      handoff: { ...handoff, trigger: 'threshold' },
      slaDueAt: NOW + 24 * 60 * MIN,
    });
    expect(brief.headline).toBe(
      'Email Grace Kim (VP RevOps, Initech) — MQL at score 62 — due Wed 09:00 their time',
    );
  });

  it("says the lead's time is unknown rather than guess, and gives the due time in the rep's zone", () => {
    const us = { ...grace, profile: { ...grace.profile, timeZone: null, country: 'United States' } };
    expect(composeBrief(us).localTime).toBe('Their time: unknown (the United States span several)');
    expect(composeBrief(us).headline).toMatch(/— due 12:15 EST$/);
    const texas = { ...us, profile: { ...us.profile, state: 'Texas' } };
    expect(composeBrief(texas).localTime).toBe('Their time: unknown (Texas spans two time zones)');
    const ohio = { ...us, profile: { ...us.profile, state: 'OH' } };
    expect(composeBrief(ohio).localTime).toBe(
      'Their time: Tue 12:00 at handoff (America/New_York, from the state)',
    );
    expect(composeBrief(ohio).headline).toMatch(/— due 12:15 their time$/);
  });

  it.each([
    [{ timeZone: 'Europe/Berlin' }, 'Europe/Berlin'],
    [{ timeZone: 'us_slash_eastern' }, 'America/New_York'],
    // ICU canonicalizes the zone name.
    [{ timeZone: 'america_slash_argentina_slash_buenos_aires' }, 'America/Buenos_Aires'],
    [{ country: 'Germany' }, 'Europe/Berlin'],
    [{ country: 'GB' }, 'Europe/London'],
    [{ country: 'Canada', state: 'Ontario' }, null],
    [{ country: 'Australia' }, null],
    [{ timeZone: 'Mars/Olympus_Mons', country: 'Germany' }, null],
  ])('time zone of %j: %s', (profile, zone) => {
    expect(leadZone(profile).zone).toBe(zone);
    // Answered again from what was resolved: the same zone, or the same refusal.
    expect(leadZone(profile)).toEqual(leadZone(profile));
    expect(leadZone(profile).zone).toBe(zone);
  });

  it('warnings come first: in the task body, the note and the alert', () => {
    const student = {
      ...grace,
      profile: { ...grace.profile, jobTitle: 'Student', company: null, email: 'grace.kim@gmail.com' },
      account: undefined,
    };
    const { warnings, verdict } = guardHandRaise(student.profile, { fit: -35 }, guardrails);
    const input = { ...student, warnings, verdict };
    const task = composeRepTask(input);
    expect(task.subject).toBe('Call Grace Kim (Student) — demo request — due 09:15 their time');
    expect(task.body.split('\n')).toEqual([
      '⚠ Student (job title “Student”)',
      '⚠ Free email (gmail.com)',
      'Hand-raise handed off at standard priority (threshold SLA): student (job title “Student”) → standard; ' +
        'free email (gmail.com) → standard; fit -35 under the hand-raise floor 0 → standard',
      'Phone: +1 415 555 0100',
      'Their time: Tue 09:00 at handoff (America/Los_Angeles)',
      'Source: Paid Social (linkedin) · latest: Organic Search',
      'Full story (who, what they did, why, score): the handoff note on this record.',
      '',
      handoffMarker(handoff.id),
    ]);
    const note = composeHandoffNote(input);
    expect(note.subject).toBe(task.subject);
    expect(note.text.split('\n').slice(0, 3)).toEqual([
      task.subject,
      '⚠ Student (job title “Student”)',
      '⚠ Free email (gmail.com)',
    ]);
    expect(note.text).toContain(
      'Next step:\n- Hand-raise handed off at standard priority (threshold SLA): student',
    );
    expect(note.html).toContain(
      '<p><strong>Call Grace Kim (Student) — demo request — due 09:15 their time</strong></p><p>⚠ Student (job title “Student”)</p>',
    );
    const alert = composeRepAlert({
      ...input,
      recordUrl: 'https://app.hubspot.com/contacts/1/record/0-1/77',
    });
    expect(alert.lines.slice(0, 2)).toEqual(['⚠ Student (job title “Student”)', '⚠ Free email (gmail.com)']);
    expect(alert.link).toBe('https://app.hubspot.com/contacts/1/record/0-1/77');
    expect(composeRepAlert({ ...input, recordUrl: 'javascript:alert(1)' }).link).toBe('');
  });

  it('the note keeps the full story the task leaves out, the account context with it', () => {
    const { text } = composeHandoffNote(grace);
    expect(text).toContain('Who:\n- Grace Kim\n- VP RevOps at Initech\n- Email: grace@initech.com');
    expect(text).toContain('Why (in their words):\n- Message: “We need routing by territory”');
    expect(text).toContain(
      'Account:\n- initech.com: account owner Ana Ruiz\n- Bill Lumbergh (VP Sales, SQL, owner Ana Ruiz)\n' +
        '- Peter Gibbons\n- Milton Waddams (Collator)\n- …and 2 more',
    );
    expect(text).toContain('Source:\n- Original: Paid Social (linkedin)\n- Latest: Organic Search');
    const task = composeRepTask(grace);
    expect(task.body).not.toContain('Why (in their words)');
    expect(task.body.length).toBeLessThan(500);
  });

  it('shows option codes as words when the CRM gave no label, and the label when it did', () => {
    const plain = composeHandoffNote({ ...grace, labels: {} }).text;
    expect(plain).toContain('- Industry: Computer software');
    expect(plain).toContain('- Original: Paid social (linkedin)');
    const labelled = composeHandoffNote({
      ...grace,
      labels: { industry: { COMPUTER_SOFTWARE: 'Software' } },
    });
    expect(labelled.text).toContain('- Industry: Software');
  });
});
