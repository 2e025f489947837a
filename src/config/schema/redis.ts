import { z } from 'zod';

export const Redis = z.strictObject({
  /** Every key lives under this prefix; keep the braces so Redis Cluster puts them in one slot. */
  prefix: z
    .string()
    .regex(/^\{[A-Za-z0-9_-]+\}$/, 'use a hash tag like "{leadflow}"')
    .default('{leadflow}'),
});
export type Redis = z.infer<typeof Redis>;
