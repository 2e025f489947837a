import { createHmac } from 'node:crypto';
import { secureEqual } from '../secure-compare.js';

/**
 * POST /webhooks/events: engagement from anything that is not a CRM (webinar platform, product
 * analytics, a data warehouse). Signed like Stripe: `X-Leadflow-Timestamp` (ms) and
 * `X-Leadflow-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`.
 */
export function signGeneric(
  body: string | Buffer,
  secret: string,
  timestamp: number,
): Record<string, string> {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return { 'X-Leadflow-Timestamp': String(timestamp), 'X-Leadflow-Signature': `sha256=${mac}` };
}

export function verifyGeneric(
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  now: number,
  maxSkewMs: number,
): { ok: true } | { ok: false; reason: string } {
  const timestamp = headers['x-leadflow-timestamp'];
  const signature = headers['x-leadflow-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string')
    return { ok: false, reason: 'missing X-Leadflow-Timestamp or X-Leadflow-Signature header' };
  if (!/^\d{1,16}$/.test(timestamp))
    return { ok: false, reason: 'timestamp is not a number of milliseconds' };
  if (Math.abs(now - Number(timestamp)) > maxSkewMs)
    return { ok: false, reason: 'timestamp outside the allowed window' };
  const expected = signGeneric(rawBody, secret, Number(timestamp))['X-Leadflow-Signature']!;
  return secureEqual(signature, expected) ? { ok: true } : { ok: false, reason: 'signature does not match' };
}
