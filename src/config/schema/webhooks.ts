import { z } from 'zod';

export const Webhooks = z.strictObject({
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(1024 * 1024),
  hubspot: z
    .strictObject({
      /** The URL HubSpot calls, as configured in the app; needed behind a proxy. Defaults to the request's own URL. */
      publicUrl: z.url().optional(),
      /** v3 (timestamped HMAC) for current apps; v1 only for older apps that still send it. */
      signatureVersion: z.enum(['v3', 'v1']).default('v3'),
      maxSkewMs: z.number().int().positive().default(300_000),
    })
    .prefault({}),
});
export type Webhooks = z.infer<typeof Webhooks>;
