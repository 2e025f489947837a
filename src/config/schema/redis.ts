import { z } from 'zod';

export const Redis = z.strictObject({
  /** Every key lives under this prefix; keep the braces so Redis Cluster puts them in one slot. */
  prefix: z
    .string()
    .regex(/^\{[A-Za-z0-9_-]+\}$/, 'use a hash tag like "{leadflow}"')
    .default('{leadflow}'),
  /**
   * A Redis with neither AOF nor RDB snapshots loses everything on a restart: `warn` logs it at
   * start, `refuse` does not start.
   */
  persistence: z.enum(['warn', 'refuse']).default('warn'),
  dataLoss: z
    .strictObject({
      /**
       * After Redis lost its data, notes and tasks are looked up by marker in the CRM before any is
       * created, for this long. At least 24 h: HubSpot retries webhooks and Salesforce Outbound
       * Messages for 24 hours, so what they redeliver arrives within it.
       */
      recoveryHours: z.number().min(24).default(24),
      /** Besides every (re)connect, the epoch key is checked this often. */
      checkEveryMs: z.number().int().min(100).max(3_600_000).default(30_000),
    })
    .prefault({}),
});
export type Redis = z.infer<typeof Redis>;
