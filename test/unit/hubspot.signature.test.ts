import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalizeSignedUri, signV3, verifyV1, verifyV3 } from '../../connectors/hubspot/signature.js';

const SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
const NOW = 1_700_000_000_000;
const URL = 'https://leads.example.com/webhooks/hubspot';
const BODY = Buffer.from('[{"eventId":1,"objectId":2}]');

function headersFor(method: string, url: string, body: Buffer, ts: number, secret = SECRET) {
  const h = signV3(method, url, body, secret, ts);
  return {
    'x-hubspot-signature-v3': h['X-HubSpot-Signature-v3'],
    'x-hubspot-request-timestamp': h['X-HubSpot-Request-Timestamp'],
  };
}

describe('HubSpot v3 signature', () => {
  it('matches an independently computed HMAC over method+uri+body+timestamp', () => {
    const expected = createHmac('sha256', SECRET)
      .update(`POST${URL}${BODY.toString()}${NOW}`)
      .digest('base64');
    expect(signV3('POST', URL, BODY, SECRET, NOW)['X-HubSpot-Signature-v3']).toBe(expected);
  });

  it('accepts a correct signature', () => {
    const req = { method: 'POST', url: URL, rawBody: BODY, headers: headersFor('POST', URL, BODY, NOW) };
    expect(verifyV3(req, SECRET, NOW, 300_000)).toEqual({ ok: true });
  });

  it.each([
    ['wrong secret', { secret: 'other' }],
    ['body changed by one byte', { body: Buffer.from('[{"eventId":1,"objectId":3}]') }],
    ['different method', { method: 'PUT' }],
    ['different url', { url: 'https://leads.example.com/webhooks/hubspot?x=1' }],
  ])(
    'rejects when %s',
    (_label, change: { secret?: string; body?: Buffer; method?: string; url?: string }) => {
      const headers = headersFor('POST', URL, BODY, NOW, change.secret ?? SECRET);
      const req = {
        method: change.method ?? 'POST',
        url: change.url ?? URL,
        rawBody: change.body ?? BODY,
        headers,
      };
      expect(verifyV3(req, SECRET, NOW, 300_000)).toEqual({ ok: false, reason: 'signature does not match' });
    },
  );

  it.each([
    [NOW - 300_001, 'timestamp is too old'],
    [NOW + 300_001, 'timestamp is in the future'],
  ])('rejects timestamp %i outside the window', (ts, reason) => {
    const req = { method: 'POST', url: URL, rawBody: BODY, headers: headersFor('POST', URL, BODY, ts) };
    expect(verifyV3(req, SECRET, NOW, 300_000)).toEqual({ ok: false, reason });
  });

  it('accepts the edges of the window', () => {
    for (const ts of [NOW - 300_000, NOW + 300_000]) {
      const req = { method: 'POST', url: URL, rawBody: BODY, headers: headersFor('POST', URL, BODY, ts) };
      expect(verifyV3(req, SECRET, NOW, 300_000).ok).toBe(true);
    }
  });

  it('rejects missing or malformed headers', () => {
    expect(verifyV3({ method: 'POST', url: URL, rawBody: BODY, headers: {} }, SECRET, NOW, 1).ok).toBe(false);
    const headers = { 'x-hubspot-signature-v3': 'abc', 'x-hubspot-request-timestamp': '12e5' };
    expect(verifyV3({ method: 'POST', url: URL, rawBody: BODY, headers }, SECRET, NOW, 1)).toEqual({
      ok: false,
      reason: 'timestamp is not a number of milliseconds',
    });
  });

  it('decodes only the escapes HubSpot decodes before signing', () => {
    expect(normalizeSignedUri('https://x.io/a%3Ab%2Fc%3Fd%40e%21f%24g%27h%28i%29j%2Ak%2Cl%3Bm')).toBe(
      "https://x.io/a:b/c?d@e!f$g'h(i)j*k,l;m",
    );
    expect(normalizeSignedUri('https://x.io/q?a=%20b%26c%3d')).toBe('https://x.io/q?a=%20b%26c%3d');
    expect(normalizeSignedUri('https://x.io/%3a')).toBe('https://x.io/:');
  });

  it('verifies a URL HubSpot signed in decoded form when we receive it encoded', () => {
    const signedForm = 'https://x.io/hook?email=a@b.com&tag=(vip)';
    const received = 'https://x.io/hook?email=a%40b.com&tag=%28vip%29';
    const headers = headersFor('POST', signedForm, BODY, NOW);
    expect(verifyV3({ method: 'POST', url: received, rawBody: BODY, headers }, SECRET, NOW, 300_000).ok).toBe(
      true,
    );
  });
});

describe('HubSpot v1 signature', () => {
  it('accepts hex sha256(secret + body) and rejects anything else', () => {
    const sig = createHash('sha256')
      .update(SECRET + BODY.toString())
      .digest('hex');
    const ok = { method: 'POST', url: URL, rawBody: BODY, headers: { 'x-hubspot-signature': sig } };
    expect(verifyV1(ok, SECRET)).toEqual({ ok: true });
    expect(verifyV1({ ...ok, rawBody: Buffer.from('[]') }, SECRET).ok).toBe(false);
    expect(verifyV1({ ...ok, headers: {} }, SECRET).ok).toBe(false);
  });
});
