import type { DeadLetter } from '../queue/dead-letters.js';
import { reportBlocks, type Report } from '../reports/index.js';

/** Aligned text table; the last column is left unpadded so long text does not push the others. */
export function table(header: string[], rows: string[][]): string {
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
