import type { GuardrailAction, Guardrails } from '../config/schema.js';
import { domainListed, domainOf, type Profile, type Score } from '../domain/index.js';
import { value } from './note/format.js';

/** What a rep should know before anything else about a lead, and what the guardrails make of a hand-raise. Pure. */

export type WarningKind = 'competitor' | 'student' | 'free_email';

export interface LeadWarning {
  kind: WarningKind;
  /** "Competitor domain (rival.io)", "Student (job title “Student”)", "Free email (gmail.com)". */
  text: string;
}

/** Why a hand-raise is handed off as it is, or not at all. */
export interface HandRaiseVerdict {
  action: GuardrailAction;
  /** Each flag that applied, with what it asks for ("free email (gmail.com) → standard"). */
  reasons: string[];
}

/** The lead's flags, most serious first; none for a lead nothing is known against. */
export function leadWarnings(profile: Profile, guardrails: Guardrails): LeadWarning[] {
  const warnings: LeadWarning[] = [];
  const domain = domainOf(profile.email);
  if (domain && domainListed(domain, guardrails.competitorDomains))
    warnings.push({ kind: 'competitor', text: `Competitor domain (${domain})` });
  const title = value(profile.jobTitle);
  if (title && new RegExp(guardrails.studentTitle, 'i').test(title))
    warnings.push({ kind: 'student', text: `Student (job title “${title}”)` });
  if (domain && domainListed(domain, guardrails.freeEmailDomains))
    warnings.push({ kind: 'free_email', text: `Free email (${domain})` });
  return warnings;
}

const SEVERITY: Record<GuardrailAction, number> = { urgent: 0, standard: 1, hold: 2 };
const RULE: Record<WarningKind, keyof Guardrails['handRaise']> = {
  competitor: 'competitor',
  student: 'student',
  free_email: 'freeEmail',
};

/**
 * A hand-raise is urgent unless a flag says otherwise; with several, the strictest wins (hold over
 * standard over urgent), and every flag that applied is named.
 */
export function judgeHandRaise(
  warnings: readonly LeadWarning[],
  score: Pick<Score, 'fit'>,
  rules: Guardrails['handRaise'],
): HandRaiseVerdict {
  const applied: [GuardrailAction, string][] = warnings.map((w) => {
    const action = rules[RULE[w.kind]] as GuardrailAction;
    return [action, `${lowerFirst(w.text)} → ${action}`];
  });
  if (score.fit < rules.fitFloor)
    applied.push([
      rules.underFitFloor,
      `fit ${Math.round(score.fit)} under the hand-raise floor ${rules.fitFloor} → ${rules.underFitFloor}`,
    ]);
  const action = applied.reduce<GuardrailAction>(
    (worst, [a]) => (SEVERITY[a] > SEVERITY[worst] ? a : worst),
    'urgent',
  );
  return { action, reasons: applied.filter(([a]) => a !== 'urgent').map(([, why]) => why) };
}

/** One line for the note, the task and the audit log; '' for a hand-raise nothing held back. */
export function describeVerdict(verdict: HandRaiseVerdict): string {
  if (verdict.action === 'urgent') return '';
  const what =
    verdict.action === 'hold'
      ? 'Hand-raise not handed off'
      : 'Hand-raise handed off at standard priority (threshold SLA)';
  return `${what}: ${verdict.reasons.join('; ')}`;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** The lead's flags and what they make of a hand-raise now: one call for the worker and `simulate`. */
export function guardHandRaise(
  profile: Profile,
  score: Pick<Score, 'fit'>,
  guardrails: Guardrails,
): { warnings: LeadWarning[]; verdict: HandRaiseVerdict } {
  const warnings = leadWarnings(profile, guardrails);
  return { warnings, verdict: judgeHandRaise(warnings, score, guardrails.handRaise) };
}
