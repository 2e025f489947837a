import { createHash, createHmac } from 'node:crypto';
import { secureEqual } from '../../src/secure-compare.js';

export interface SignedRequest {
  method: string;
  /** The full URL HubSpot called: scheme, host, path and query as sent. */
  url: string;
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

// HubSpot decodes only these escapes before signing (see shared/reference/hubspot.md).
const DECODED_ESCAPES: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};
const ESCAPE_PATTERN = /%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi;

export function normalizeSignedUri(url: string): string {
  return url.replace(ESCAPE_PATTERN, (m) => DECODED_ESCAPES[m.toUpperCase()] ?? m);
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** v3: base64 HMAC-SHA256 of method + uri + body + timestamp, within `maxSkewMs` of now in both directions. */
export function verifyV3(
  req: SignedRequest,
  clientSecret: string,
  now: number,
  maxSkewMs: number,
): SignatureCheck {
  const signature = header(req.headers, 'x-hubspot-signature-v3');
  const timestamp = header(req.headers, 'x-hubspot-request-timestamp');
  if (!signature || !timestamp)
    return { ok: false, reason: 'missing X-HubSpot-Signature-v3 or timestamp header' };
  if (!/^\d{1,16}$/.test(timestamp))
    return { ok: false, reason: 'timestamp is not a number of milliseconds' };
  const skew = now - Number(timestamp);
  if (Math.abs(skew) > maxSkewMs)
    return { ok: false, reason: skew > 0 ? 'timestamp is too old' : 'timestamp is in the future' };
  const expected = createHmac('sha256', clientSecret)
    .update(req.method.toUpperCase())
    .update(normalizeSignedUri(req.url))
    .update(req.rawBody)
    .update(timestamp)
    .digest('base64');
  return secureEqual(signature, expected) ? { ok: true } : { ok: false, reason: 'signature does not match' };
}

/** v1 (older apps): hex SHA-256 of clientSecret + body, no timestamp. */
export function verifyV1(req: SignedRequest, clientSecret: string): SignatureCheck {
  const signature = header(req.headers, 'x-hubspot-signature');
  if (!signature) return { ok: false, reason: 'missing X-HubSpot-Signature header' };
  const expected = createHash('sha256').update(clientSecret).update(req.rawBody).digest('hex');
  return secureEqual(signature.toLowerCase(), expected)
    ? { ok: true }
    : { ok: false, reason: 'signature does not match' };
}

/** Signs like HubSpot does; used by tests, the demo and the benchmark to send real signed requests. */
export function signV3(
  method: string,
  url: string,
  body: string | Buffer,
  clientSecret: string,
  timestamp: number,
) {
  const signature = createHmac('sha256', clientSecret)
    .update(method.toUpperCase())
    .update(normalizeSignedUri(url))
    .update(body)
    .update(String(timestamp))
    .digest('base64');
  return { 'X-HubSpot-Signature-v3': signature, 'X-HubSpot-Request-Timestamp': String(timestamp) };
}
