import { z } from 'zod';
import type { DeadLetter } from '../queue/dead-letters.js';
import { reportBlocks, type Report } from '../reports/index.js';

/*
 * C0 controls but newline, DEL, C1 controls (0x9b is an 8-bit CSI) and the bidi overrides: lead and
 * CRM text must not move the cursor, retitle the terminal or reorder what an operator reads.
 */
const CONTROL = /(?!\n)[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Text fit for a terminal: every control character but the line break dropped (a tab becomes a
 * space). Everything the CLI prints for people goes through here; `--json` output is escaped by
 * JSON itself.
 */
export function printable(text: string): string {
  return text.replace(/\t/g, ' ').replace(CONTROL, '');
}

/** Aligned text table; the last column is left unpadded so long text does not push the others. */
export function table(header: string[], cellRows: string[][]): string {
  // One line per row: a line break in a cell would break the table.
  const rows = cellRows.map((r) => r.map((c) => printable(c).replace(/\n/g, ' ')));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}

/** The report as aligned plain-text tables. */
export function formatReport(r: Report): string {
  return reportBlocks(r)
    .map((block) => (typeof block === 'string' ? block : table(block.header, block.rows)))
    .join('\n');
}

export function formatDeadLetters(letters: DeadLetter[]): string {
  if (letters.length === 0) return 'No dead letters.\n';
  const rows = letters.map((l) => [
    l.queue,
    l.id,
    String(l.attemptsMade),
    l.failedAt ? new Date(l.failedAt).toISOString().slice(0, 19).replace('T', ' ') : '',
    l.failedReason,
  ]);
  return table(['queue', 'job id', 'attempts', 'failed at (UTC)', 'reason'], rows);
}

/** A zod failure as one line a person can read: `path: message; …`, never the issues' JSON. */
export function issuesLine(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/**
 * What the CLI prints for a failure: the message alone (ConfigError and HistoryError list one
 * problem a line), zod issues as one line, never a stack.
 */
export function errorText(err: unknown): string {
  if (err instanceof z.ZodError) return issuesLine(err);
  return err instanceof Error ? err.message : String(err);
}
