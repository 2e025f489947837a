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

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'leadflow' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination ?? process.stdout,
  );
}

export type { Logger };
