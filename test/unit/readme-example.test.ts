import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Guardrails } from '../../src/config/schema.js';
import type { EngagementEvent, Handoff, LeadRef } from '../../src/domain/index.js';
import { guardHandRaise } from '../../src/handoff/guardrails.js';
import { composeRepTask } from '../../src/handoff/task.js';
import { GRACE } from '../helpers/grace.js';
import { testScore } from '../helpers/score.js';

/** The example tasks the README shows are this composer output, character for character. */
function exampleTask(who: Record<string, string> = {}, fit = 30, dueInMinutes = 15): string {
  const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '7001' };
  const at = Date.UTC(2026, 10, 24, 17, 0); // 09:00 in San Francisco
  const demo: EngagementEvent = {
    id: 'hubspot:demo-1',
    lead,
    type: 'demo_request',
    occurredAt: at - 60_000,
    source: 'hubspot',
    properties: { form: 'Book a demo' },
  };
  const handoff: Handoff = {
    id: 'hf.hubspot.contact.7001.0.mql',
    lead,
    stage: 'mql',
    trigger: 'hand_raise',
    triggerEventId: demo.id,
    receivedAt: at,
    decidedAt: at,
    score: testScore(64, at),
  };
  const profile = {
    ...GRACE,
    sourceDetail: 'LinkedIn',
    latestSource: 'ORGANIC_SEARCH',
    ...who,
  };
  const { warnings, verdict } = guardHandRaise(profile, { fit }, Guardrails.parse({}));
  const task = composeRepTask({
    handoff,
    profile,
    events: [demo],
    slaDueAt: at + dueInMinutes * 60_000,
    timeZone: 'America/New_York',
    warnings,
    verdict,
    labels: { source: { PAID_SOCIAL: 'Paid Social' }, latestSource: { ORGANIC_SEARCH: 'Organic Search' } },
    account: who.email
      ? undefined
      : {
          domain: 'initech.com',
          ownerName: 'Ana Ruiz',
          contacts: [{ name: 'Bill Lumbergh', title: 'VP Sales', stage: 'SQL', ownerName: 'Ana Ruiz' }],
          more: 0,
        },
  });
  return `Subject: ${task.subject}\n\n${task.body}`;
}

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('shows a rep task exactly as the composer writes it', () => {
    expect(readme).toContain(`\`\`\`\n${exampleTask()}\n\`\`\``);
  });

  it("shows a guarded hand-raise's task exactly as the composer writes it", () => {
    const student = {
      firstName: 'Sam',
      lastName: 'Lee',
      jobTitle: 'Student',
      company: '',
      email: 'sam.lee@gmail.com',
    };
    expect(readme).toContain(`\`\`\`\n${exampleTask(student, -35, 240)}\n\`\`\``);
  });
});
