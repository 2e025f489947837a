import { z } from 'zod';

// Building blocks more than one section uses.

/**
 * How a profile property or event property is compared: exactly one of `equals`, `in`,
 * `contains`, `regex` (with optional `flags`) or a numeric range (`min` and/or `max`).
 * A flat object (not a union) so a mistake gets a precise message.
 */
export const Matcher = z
  .strictObject({
    equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    in: z
      .array(z.union([z.string(), z.number()]))
      .min(1)
      .optional(),
    contains: z.string().min(1).optional(),
    regex: z.string().refine(isValidRegex, 'not a valid regular expression').optional(),
    flags: z
      .string()
      .regex(/^[imsu]*$/, 'only the flags i, m, s and u are allowed')
      .optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .superRefine((m, ctx) => {
    const operators = [
      m.equals !== undefined && 'equals',
      m.in !== undefined && 'in',
      m.contains !== undefined && 'contains',
      m.regex !== undefined && 'regex',
      (m.min !== undefined || m.max !== undefined) && 'min/max',
    ].filter(Boolean);
    if (operators.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message:
          operators.length === 0
            ? 'needs one of equals, in, contains, regex, min/max'
            : `use only one of ${operators.join(', ')}`,
      });
    if (m.flags !== undefined && m.regex === undefined)
      ctx.addIssue({ code: 'custom', path: ['flags'], message: 'flags only go with regex' });
    if (m.min !== undefined && m.max !== undefined && m.min > m.max)
      ctx.addIssue({ code: 'custom', path: ['min'], message: 'min must be ≤ max' });
  });
export type Matcher = z.infer<typeof Matcher>;

export function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

export const RuleId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'use lowercase letters, digits, "-" and "_"')
  .max(64);

export const Score100 = z.number().int().min(0).max(100);

/** A calendar date, YYYY-MM-DD (holidays, absences). */
export const Day = z.iso.date();

/** A polling interval in seconds (HubSpot and Salesforce polling). */
export const Every = z.number().int().min(10).max(86_400);
