import { z } from 'zod';

/**
 * Where handoffs are written when marketing runs on one CRM and sales on the other: a lead from
 * the other CRM is matched by email in this one (and created there when `createMissing`).
 */
export const CrossCrm = z.strictObject({
  handoffTo: z.enum(['hubspot', 'salesforce']),
  matchBy: z.literal('email').default('email'),
  createMissing: z.boolean().default(true),
});
export type CrossCrm = z.infer<typeof CrossCrm>;
