import { pino, type Logger } from 'pino';

/** Secrets and personal data never reach the logs. */
export const REDACT_PATHS = [
  'accessToken',
  'refreshToken',
  'clientSecret',
  'token',
  'email',
  '*.accessToken',
  '*.refreshToken',
  '*.clientSecret',
  '*.token',
  '*.email',
  'req.headers.authorization',
  'req.headers["x-hubspot-signature-v3"]',
  'req.headers["x-hubspot-signature"]',
];

const EMAIL = /[\w.%+-]+@[a-z\d-]+(?:\.[a-z\d-]+)*\.[a-z]{2,}/gi;

/** Email addresses in free text (CRM error messages quote them) replaced, wherever the text goes. */
export function redactEmails(text: string): string {
  return text.replace(EMAIL, '[redacted]');
}

function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactEmails(value);
  if (Array.isArray(value)) return value.map(redactValue);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v)]));
  return value;
}

/**
 * The finished line, message and error text included, with every email address redacted; redaction
 * by key above cannot see an address inside a message. Parsed rather than matched on the JSON, so an
 * escape before an address stays valid; lines without an `@` pass untouched.
 */
function redactLine(line: string): string {
  if (!line.includes('@')) return line;
  return `${JSON.stringify(redactValue(JSON.parse(line)))}\n`;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'leadflow' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: { streamWrite: redactLine },
    },
    destination ?? process.stdout,
  );
}

export type { Logger };
