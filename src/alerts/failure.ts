import { AlertFailure } from './types.js';

/** What a failure of each channel means. Pure, so every case is tested. */

/** Slack answers `ok: false` with these when trying again can work. */
const SLACK_TRANSIENT = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);
/** Network errors raised before a request could reach the server: nothing was sent. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A @slack/web-api error. `posting`: the call was chat.postMessage, where a lost answer may mean
 * a posted message; the lookups before it are reads and safe to repeat.
 */
export function slackFailure(err: unknown, posting: boolean): AlertFailure {
  const e = err as {
    code?: string;
    data?: { error?: string };
    retryAfter?: number;
    statusCode?: number;
    original?: { code?: string; cause?: { code?: string }; message?: string };
    message?: string;
  };
  switch (e.code) {
    case 'slack_webapi_rate_limited_error':
      return new AlertFailure('retry', 'Slack rate limit', Math.max(1, e.retryAfter ?? 1) * 1000);
    case 'slack_webapi_platform_error': {
      const code = e.data?.error ?? 'unknown_error';
      return new AlertFailure(SLACK_TRANSIENT.has(code) ? 'retry' : 'permanent', `Slack: ${code}`);
    }
    case 'slack_webapi_http_error':
      return new AlertFailure(
        (e.statusCode ?? 500) >= 500 ? 'retry' : 'permanent',
        `Slack answered HTTP ${e.statusCode ?? '?'}`,
      );
    case 'slack_webapi_request_error': {
      const network = e.original?.code ?? e.original?.cause?.code ?? '';
      const reason = `Slack unreachable: ${network || e.original?.message || 'request failed'}`;
      return new AlertFailure(!posting || NOT_CONNECTED.has(network) ? 'retry' : 'uncertain', reason);
    }
    default:
      return new AlertFailure(posting ? 'uncertain' : 'retry', `Slack: ${e.message ?? String(err)}`);
  }
}

/**
 * A nodemailer SMTP error. A reply code decides (4xx: try later, 5xx: refused for good); a failure
 * to connect or authenticate sent nothing; anything else happened mid-message and may have gone out.
 */
export function smtpFailure(err: unknown): AlertFailure {
  const e = err as { code?: string; responseCode?: number; command?: string; message?: string };
  const reason = `SMTP: ${e.message ?? String(err)}`;
  if (typeof e.responseCode === 'number')
    return new AlertFailure(e.responseCode >= 500 ? 'permanent' : 'retry', reason);
  if (e.code === 'EAUTH' || e.code === 'EENVELOPE') return new AlertFailure('permanent', reason);
  if (
    e.command === 'CONN' ||
    e.code === 'ECONNECTION' ||
    e.code === 'EDNS' ||
    NOT_CONNECTED.has(e.code ?? '')
  )
    return new AlertFailure('retry', reason);
  return new AlertFailure('uncertain', reason);
}
