import nodemailer, { type Transporter } from 'nodemailer';
import { escapeHtml } from '../domain/index.js';
import { smtpFailure } from './failure.js';
import type { AlertChannel, AlertMessage, AlertRecipient } from './types.js';

/** An email to the rep through SMTP (nodemailer), plain text and escaped HTML. */
export class EmailAlerts implements AlertChannel {
  readonly name = 'email' as const;
  private readonly transport: Transporter;

  constructor(private readonly opts: { smtpUrl: string; from: string; timeoutMs: number }) {
    this.transport = nodemailer.createTransport({
      url: opts.smtpUrl,
      connectionTimeout: opts.timeoutMs,
      greetingTimeout: opts.timeoutMs,
      socketTimeout: opts.timeoutMs,
    });
  }

  reaches(to: AlertRecipient): boolean {
    return Boolean(to.email);
  }

  async send(to: AlertRecipient, message: AlertMessage): Promise<void> {
    const link = message.link ? [`Open the record: ${message.link}`] : [];
    try {
      await this.transport.sendMail({
        from: this.opts.from,
        to: to.email,
        subject: message.subject,
        text: [message.subject, '', ...message.lines, ...link].join('\n'),
        html: [
          `<p><strong>${escapeHtml(message.subject)}</strong></p>`,
          ...message.lines.map((line) => `<p>${escapeHtml(line)}</p>`),
          message.link ? `<p><a href="${escapeHtml(message.link)}">Open the record</a></p>` : '',
        ].join(''),
        headers: { 'X-Leadflow-Handoff': message.handoffId },
      });
    } catch (err) {
      throw smtpFailure(err);
    }
  }

  close(): void {
    this.transport.close();
  }
}
