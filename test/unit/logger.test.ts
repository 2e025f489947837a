import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactEmails } from '../../src/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger('debug', stream) };
}

describe('logger redaction', () => {
  it('never prints tokens, secrets or email addresses', () => {
    const { lines, logger } = capture();
    logger.info({ accessToken: 'pat-na1-SECRET', email: 'ada@example.com' }, 'top level');
    logger.info(
      {
        lead: { email: 'ada@example.com', id: '7' },
        auth: { refreshToken: 'rt-SECRET', clientSecret: 'cs-SECRET' },
      },
      'nested',
    );
    logger.info(
      {
        req: { headers: { authorization: 'Bearer pat-na1-SECRET', 'x-hubspot-signature-v3': 'sig-SECRET' } },
      },
      'request',
    );
    const out = lines.join('');
    expect(out).not.toMatch(/SECRET|ada@example\.com/);
    expect(out.match(/\[redacted\]/g)?.length).toBe(7);
    expect(out).toContain('"id":"7"');
  });

  it('redacts email addresses inside messages and error text, keeping every line valid JSON', () => {
    const { lines, logger } = capture();
    logger.warn(
      { err: 'hubspot 409 CONFLICT: Contact already exists. Existing ID: ada@example.com' },
      'failed',
    );
    logger.error(new Error('duplicate value found: Email duplicates Ben.O+x@sub.example.co.uk'), 'boom');
    logger.info(
      { reason: ['first ada@example.com', 'then \u001bada@example.com'] },
      'mail to ada@example.com',
    );
    expect(lines).toHaveLength(3);
    const out = lines.join('');
    expect(out).not.toMatch(/ada@|Ben\.O|example\.co/);
    expect(out.match(/\[redacted\]/g)?.length).toBe(6);
    const parsed = lines.map(
      (l) => JSON.parse(l) as { msg: string; reason?: string[]; err?: { stack: string } },
    );
    expect(parsed[2]).toMatchObject({
      msg: 'mail to [redacted]',
      reason: ['first [redacted]', 'then \u001b[redacted]'],
    });
    expect(parsed[1]?.err?.stack).toMatch(/^Error: duplicate value found: Email duplicates \[redacted\]\n/);
    expect(lines.every((l) => l.endsWith('}\n'))).toBe(true);
  });

  it('leaves text without an address alone', () => {
    expect(redactEmails('hubspot 400 VALIDATION_ERROR: Property "x@" does not exist at @scope/pkg')).toBe(
      'hubspot 400 VALIDATION_ERROR: Property "x@" does not exist at @scope/pkg',
    );
  });
});
