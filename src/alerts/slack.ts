import { WebClient } from '@slack/web-api';
import { escapeSlack } from '../domain/index.js';
import { slackFailure } from './failure.js';
import type { AlertChannel, AlertMessage, AlertRecipient } from './types.js';

/**
 * A Slack DM to the rep with the official Web API client: the member id from the config or
 * users.lookupByEmail, the DM from conversations.open, then chat.postMessage. The client's own
 * retries are off (a retried post could be a second message): our job retries what is safe.
 */
export class SlackAlerts implements AlertChannel {
  readonly name = 'slack' as const;
  private readonly client: WebClient;

  constructor(opts: { token: string; apiUrl: string; timeoutMs: number }) {
    this.client = new WebClient(opts.token, {
      slackApiUrl: opts.apiUrl.endsWith('/') ? opts.apiUrl : `${opts.apiUrl}/`,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: opts.timeoutMs,
    });
  }

  reaches(to: AlertRecipient): boolean {
    return Boolean(to.slackUserId || to.email);
  }

  async send(to: AlertRecipient, message: AlertMessage): Promise<void> {
    const user = await this.read(async () => {
      if (to.slackUserId) return to.slackUserId;
      const found = await this.client.users.lookupByEmail({ email: to.email ?? '' });
      return found.user?.id;
    });
    const dm = await this.read(
      async () => (await this.client.conversations.open({ users: user })).channel?.id,
    );
    try {
      await this.client.chat.postMessage({
        channel: dm,
        text: slackMrkdwn(message),
        unfurl_links: false,
        metadata: { event_type: 'leadflow_handoff', event_payload: { handoff_id: message.handoffId } },
      });
    } catch (err) {
      throw slackFailure(err, true);
    }
  }

  private async read(call: () => Promise<string | undefined>): Promise<string> {
    let id: string | undefined;
    try {
      id = await call();
    } catch (err) {
      throw slackFailure(err, false);
    }
    if (!id)
      throw slackFailure({ code: 'slack_webapi_platform_error', data: { error: 'no_id_in_answer' } }, false);
    return id;
  }
}

/** Bold headline, the lines, and the record link; everything the lead controls escaped for mrkdwn. */
export function slackMrkdwn(message: AlertMessage): string {
  return [
    `*${escapeSlack(message.subject)}*`,
    ...message.lines.map(escapeSlack),
    ...(message.link ? [`<${escapeSlack(message.link)}|Open the record>`] : []),
  ].join('\n');
}
