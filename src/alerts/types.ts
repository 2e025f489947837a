/** A rep alert channel (Slack, email): the message, who it is for, and what a failure means. */

export interface AlertMessage {
  /** The task's headline: "Call Grace Kim (VP RevOps, Initech) — demo request — due 09:15 their time". */
  subject: string;
  /** Plain lines under it, warnings first; each channel escapes them for itself. */
  lines: string[];
  /** The lead's record in the CRM ('' when none). */
  link: string;
  /** Named in the message's metadata and headers, so a message can be traced to its handoff. */
  handoffId: string;
}

export interface AlertRecipient {
  email?: string;
  slackUserId?: string;
}

export interface AlertChannel {
  readonly name: 'slack' | 'email';
  /** Whether the channel can reach this rep at all (a Slack id or an email; an email). */
  reaches(to: AlertRecipient): boolean;
  /** Sends once; throws AlertFailure saying whether trying again is safe. */
  send(to: AlertRecipient, message: AlertMessage): Promise<void>;
}

/**
 * Why a send failed, and what that means: `retry` (nothing was delivered: try again, after
 * `retryAfterMs` when the service said so), `permanent` (it never will be: no such user, refused
 * address, bad credentials), `uncertain` (the message may have gone out: sending again could
 * deliver it twice, so it is not sent again).
 */
export class AlertFailure extends Error {
  override name = 'AlertFailure';
  constructor(
    readonly kind: 'retry' | 'permanent' | 'uncertain',
    readonly reason: string,
    readonly retryAfterMs?: number,
  ) {
    super(reason);
  }
}
