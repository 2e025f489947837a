import { z } from 'zod';

const Timeout = z.number().int().min(100).max(120_000).default(10_000);

/**
 * A message to the assigned rep at each handoff, on the channels configured here (each needs its
 * secret in the environment: SLACK_BOT_TOKEN, SMTP_URL). Sent once per handoff, after the CRM
 * writes, by a job of its own.
 */
export const Alerts = z.strictObject({
  /** A Slack DM: the rep found by `routing.reps[].slackUserId`, else by email (users.lookupByEmail). */
  slack: z
    .strictObject({
      /** The Web API's base URL (a local fake in tests). */
      apiUrl: z.url().default('https://slack.com/api/'),
      timeoutMs: Timeout,
    })
    .optional(),
  /** An email to the rep's address (`routing.reps[].email`, else the CRM owner's). */
  email: z
    .strictObject({
      /** The sender, e.g. `Leadflow <leadflow@example.com>`. */
      from: z.string().min(3),
      timeoutMs: Timeout,
    })
    .optional(),
});
export type Alerts = z.infer<typeof Alerts>;
