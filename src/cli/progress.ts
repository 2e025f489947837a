import { Presets, SingleBar } from 'cli-progress';
import type { BackfillProgress } from './backfill.js';

/** Seconds as a person reads them: `45 s`, `3 min`, `2 h 5 min`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** One line of progress for logs and pipes: `120 of 250 records queued (40/s, 3 s left)`. */
export function progressLine(p: BackfillProgress, verb: string): string {
  const rate = `${Math.round(p.perSecond).toLocaleString('en-US')}/s`;
  const done = p.done.toLocaleString('en-US');
  if (p.total === undefined) return `${done} records ${verb} (${rate})`;
  const left = p.perSecond > 0 ? `, ${duration((p.total - p.done) / p.perSecond)} left` : '';
  return `${done} of ${p.total.toLocaleString('en-US')} records ${verb} (${rate}${left})`;
}

export interface ProgressView {
  update(p: BackfillProgress): void;
  stop(): void;
}

/**
 * A progress bar with N of M and the time left on a terminal (cli-progress), one plain line per
 * update anywhere else (a log or a pipe has no cursor to move).
 */
export function progressView(stream: NodeJS.WriteStream, verb: string): ProgressView {
  if (!stream.isTTY)
    return { update: (p) => stream.write(`backfill: ${progressLine(p, verb)}\n`), stop: () => undefined };
  let bar: SingleBar | undefined;
  return {
    update(p) {
      if (!bar) {
        // Without a total there is no bar to fill: the count and the rate alone.
        const format =
          p.total === undefined
            ? `backfill: {value} records ${verb} ({rate}/s)`
            : `backfill: {bar} {value} of {total} records ${verb} ({rate}/s, {eta_formatted} left)`;
        bar = new SingleBar({ format, stream, hideCursor: true, etaBuffer: 20 }, Presets.shades_classic);
        bar.start(p.total ?? 0, p.done, { rate: 0 });
      }
      if (p.total !== undefined) bar.setTotal(p.total);
      bar.update(p.done, { rate: Math.round(p.perSecond) });
    },
    stop: () => bar?.stop(),
  };
}
