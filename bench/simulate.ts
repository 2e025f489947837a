/**
 * simulate on a real-sized export: 1,000,000 events of 100,000 leads (CSV, written to a temp dir),
 * replayed by the CLI as its own process with the default what-if thresholds, and again with
 * `--compare` against a proposed config. Wall time and peak RSS (GNU time's maximum resident set
 * size) of each process.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Outcome } from './common.js';

const LEADS = 100_000;
const EVENTS = 1_000_000;
const TYPES = [
  'page_view',
  'page_view',
  'page_view',
  'email_open',
  'email_click',
  'form_submission',
  'webinar_attended',
  'demo_request',
];
const TITLES = ['VP Marketing', 'Marketing Manager', 'Student', 'Engineer', 'Head of Sales'];
const DAY = 86_400_000;

/** Deterministic (a fixed LCG), so every run replays the same file. */
async function writeExport(path: string): Promise<void> {
  let seed = 42;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const out = createWriteStream(path);
  const write = (line: string) =>
    out.write(line) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve()));
  await write('lead_id,type,occurred_at,url,profile.jobTitle,profile.country\n');
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < EVENTS; i++) {
    const lead = Math.floor(next() * LEADS) + 1;
    const type = TYPES[Math.floor(next() * TYPES.length)]!;
    const url = type === 'page_view' ? (next() < 0.2 ? '/pricing' : '/blog/post') : '';
    const at = start + Math.floor(next() * 300 * DAY);
    const title = i < LEADS ? TITLES[lead % TITLES.length]! : '';
    await write(`${lead},${type},${at},${url},${title},${title ? 'Canada' : ''}\n`);
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

/** The CLI on the export under GNU time: its wall time, peak RSS and JSON answer. */
function replay(args: string[]) {
  const started = performance.now();
  const run = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      'maxrss_kb=%M',
      process.execPath,
      '--import',
      'tsx',
      'src/cli/main.ts',
      'simulate',
      ...args,
      '--json',
    ],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`simulate failed: ${run.stderr}`);
  const rssMb = Number(/maxrss_kb=(\d+)/.exec(run.stderr)?.[1]) / 1024;
  return {
    figures: { seconds: Math.round(seconds * 10) / 10, peakRssMb: Math.round(rssMb) },
    report: JSON.parse(run.stdout) as unknown,
  };
}

export async function simulateExport(): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'leadflow-bench-sim-'));
  try {
    const file = join(dir, 'export.csv');
    await writeExport(file);
    const proposed = join(dir, 'proposed.yaml');
    writeFileSync(
      proposed,
      readFileSync('config/default.yaml', 'utf8').replace('  mql: 50\n', '  mql: 40\n'),
    );
    const plain = replay([file]);
    const compared = replay([file, '--compare', proposed]);
    const leads = (plain.report as { leads: number }).leads;
    const { changes: changed, ownersChanged } = compared.report as {
      changes: unknown[];
      ownersChanged: number;
    };
    const changes = changed.length;
    return {
      results: {
        simulate: {
          events: EVENTS,
          leads,
          plain: plain.figures,
          compare: { ...compared.figures, changes, ownersChanged },
        },
      },
      rows: [
        [
          'simulate, 1M events of 100k leads',
          `${plain.figures.seconds} s, ${plain.figures.peakRssMb} MB`,
          'CSV, CLI process wall time and peak RSS, 5 what-if thresholds',
        ],
        [
          'simulate --compare, the same export',
          `${compared.figures.seconds} s, ${compared.figures.peakRssMb} MB`,
          `against MQL at 40: ${changes.toLocaleString('en-US')} leads change (stage or owner), ` +
            `${ownersChanged.toLocaleString('en-US')} owners`,
        ],
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
