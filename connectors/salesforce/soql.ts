/** SOQL literals and Salesforce's value formats, shared by the connector and the poller. Pure. */

import { CRM_RECORD_ID } from '../../src/domain/index.js';

/** A 15- or 18-character record id. */
export const RECORD_ID = CRM_RECORD_ID.salesforce;

/**
 * A SOQL datetime literal (unquoted). Salesforce stores whole seconds, and its documented literal
 * form has none: milliseconds are written only when there are some (the sandbox keeps them).
 */
export function soqlDatetime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.replace('.000Z', 'Z') : iso;
}

/** A quoted SOQL string literal with its backslashes, quotes and control characters escaped. */
export function soqlString(value: string): string {
  const escaped = value.replace(/[\\'"\n\r\t\b\f]/g, (c) => {
    const named: Record<string, string> = { '\n': 'n', '\r': 'r', '\t': 't', '\b': 'b', '\f': 'f' };
    return `\\${named[c] ?? c}`;
  });
  return `'${escaped}'`;
}

/** A Salesforce datetime (`2026-11-24T09:48:00.000+0000`) as ms; NaN when unreadable. */
export function salesforceTime(text: string): number {
  return Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}
