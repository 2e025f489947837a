import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';

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
});
