/**
 * npm run bench — measures what the README claims, on this machine, against the local CRM sandbox.
 * Prints a table and writes bench/results/latest.json. Every number is a median or a percentile of
 * a stated sample; ratios compare with a naive baseline run in the same process.
 * `npx tsx bench/run.ts speed ingest` runs only the named benchmarks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { findOrStartRedis } from '../test/sandbox/redis-server.js';
import { ceilingUtilisation } from './budget.js';
import { burst } from './burst.js';
import { callsPerThousand } from './calls.js';
import type { Outcome } from './common.js';
import { ingestThroughput } from './ingest.js';
import { memoryPerLead } from './memory.js';
import { priorityUnderBacklog } from './priority.js';
import { salesforceSpeedToLead } from './salesforce.js';
import { salesforceBurst } from './salesforce-burst.js';
import { scaling } from './scale.js';
import { benchScoring } from './scoring.js';
import { simulateExport } from './simulate.js';
import { speedToLead } from './speed.js';
import { trickle } from './trickle.js';

async function scoring(): Promise<Outcome> {
  const s = await benchScoring();
  return {
    results: { scoring: s },
    rows: [
      [
        'score recomputes per second, one core',
        s.recomputesPerSecond.toLocaleString('en-US'),
        `${s.rules} rules, ${s.events} events, median of 5`,
      ],
    ],
  };
}

/** By the name that picks it on the command line, in the order they run. */
const BENCHMARKS: Record<string, (redisUrl: string) => Promise<Outcome>> = {
  scoring,
  speed: speedToLead,
  priority: priorityUnderBacklog,
  salesforce: salesforceSpeedToLead,
  'salesforce-burst': salesforceBurst,
  burst,
  ingest: ingestThroughput,
  calls: callsPerThousand,
  trickle,
  ceiling: ceilingUtilisation,
  scaling,
  simulate: simulateExport,
  memory: memoryPerLead,
};

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const results: Record<string, unknown> = {};
  const rows: Outcome['rows'] = [];
  const redis = await findOrStartRedis();
  try {
    for (const [name, bench] of Object.entries(BENCHMARKS)) {
      if (only.length > 0 && !only.includes(name)) continue;
      const outcome = await bench(redis.url);
      Object.assign(results, outcome.results);
      rows.push(...outcome.rows);
    }
  } finally {
    await redis.own?.stop();
  }

  const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
  process.stdout.write(`\nleadflow benchmark — ${new Date().toISOString()} — node ${process.version}\n\n`);
  for (const [what, value, note] of rows)
    process.stdout.write(`${what.padEnd(w[0]!)}  ${value.padStart(w[1]!)}  ${note}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/latest.json',
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
  process.stdout.write('\nwrote bench/results/latest.json\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
