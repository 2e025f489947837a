import { z } from 'zod';
import { FREE_EMAIL_DOMAINS } from '../../domain/index.js';
import { isValidRegex } from './common.js';

const DomainEntry = z
  .string()
  .regex(
    /^([a-z0-9-]+\.)+([a-z0-9-]+|\*)$/i,
    'a domain such as "rival.io" ("yahoo.*" for every country of one provider)',
  );

/**
 * What a hand-raise from a flagged lead becomes: `urgent` (as any hand-raise: its SLA, HIGH
 * priority), `standard` (handed off at the threshold SLA and `standardPriority`), `hold` (not handed
 * off for the hand-raise; the score alone still decides, and the audit log says why).
 */
export const GuardrailAction = z.enum(['urgent', 'standard', 'hold']);
export type GuardrailAction = z.infer<typeof GuardrailAction>;

/**
 * Flags shown first on every handoff (note, task, alert), and what they do to a hand-raise, so a
 * student on a gmail address asking for a demo does not page a rep with a 15-minute SLA.
 */
export const Guardrails = z.strictObject({
  /** Mailbox providers: a lead on one is flagged "free email". Replaces the built-in list when given. */
  freeEmailDomains: z.array(DomainEntry).default([...FREE_EMAIL_DOMAINS]),
  /** Your competitors (email domain, subdomains included): flagged "competitor domain". */
  competitorDomains: z.array(DomainEntry).default([]),
  /** Job titles flagged "student" (case-insensitive regular expression). */
  studentTitle: z
    .string()
    .refine(isValidRegex, 'not a valid regular expression')
    .default('\\b(student|intern)\\b'),
  handRaise: z
    .strictObject({
      /** A hand-raise whose fit score is under this is flagged "fit under the floor". */
      fitFloor: z.number().min(-100).max(100).default(0),
      underFitFloor: GuardrailAction.default('standard'),
      student: GuardrailAction.default('standard'),
      freeEmail: GuardrailAction.default('standard'),
      competitor: GuardrailAction.default('hold'),
      /** Task priority of a hand-raise handed off at standard priority. */
      standardPriority: z.enum(['LOW', 'MEDIUM', 'HIGH']).default('MEDIUM'),
    })
    .prefault({}),
});
export type Guardrails = z.infer<typeof Guardrails>;
