import type { Env } from '../config/env.js';
import { ConfigError } from '../config/errors.js';
import type { Config } from '../config/schema.js';
import { EmailAlerts } from './email.js';
import { SlackAlerts } from './slack.js';
import type { AlertChannel } from './types.js';

export { AlertFailure, type AlertChannel, type AlertMessage, type AlertRecipient } from './types.js';

/** The alert channels the config turns on, with their secrets; a channel without its secret is refused. */
export function alertChannels(env: Env, config: Config): AlertChannel[] {
  const { slack, email } = config.alerts;
  const missing = [
    slack && !env.SLACK_BOT_TOKEN ? 'alerts.slack needs SLACK_BOT_TOKEN' : '',
    email && !env.SMTP_URL ? 'alerts.email needs SMTP_URL' : '',
  ].filter(Boolean);
  if (missing.length) throw new ConfigError('environment', missing);
  return [
    ...(slack && env.SLACK_BOT_TOKEN
      ? [new SlackAlerts({ token: env.SLACK_BOT_TOKEN, apiUrl: slack.apiUrl, timeoutMs: slack.timeoutMs })]
      : []),
    ...(email && env.SMTP_URL
      ? [new EmailAlerts({ smtpUrl: env.SMTP_URL, from: email.from, timeoutMs: email.timeoutMs })]
      : []),
  ];
}
