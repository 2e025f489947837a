/*
 * How long one audit sweep takes: DAYS days of PER_DAY handoffs (4 entries each: decision, writeback,
 * first action, conversion) in a stream under a fresh prefix on $REDIS_URL, KEEP of those days old
 * enough to be kept. 3 runs, the median printed.
 *   KEEP=1 DAYS=91 npx tsx bench/audit-sweep.ts     # a day's sweep at the default auditDays
 *   KEEP=30 DAYS=120 npx tsx bench/audit-sweep.ts   # the first sweep over a stream 30 days too long
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config/load.js';
import { sweepAudit } from '../src/reports/rollup.js';
import { keys } from '../src/store/keys.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { deleteByPrefix } from '../src/store/redis.js';

const DAY = 86_400_000;
const T = Date.UTC(2026, 0, 1);
const days = Number(process.env.DAYS ?? 91);
const perDay = Number(process.env.PER_DAY ?? 250); // handoffs a day, 4 entries each
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const results: number[] = [];
for (let run = 0; run < 3; run++) {
  const prefix = `{lf-auditbench-${run}-${process.pid}}`;
  const base = loadConfig('config/default.yaml');
  const config = { ...base, redis: { ...base.redis, prefix } };
  const k = keys(prefix);
  for (let d = 0; d < days; d++) {
    const p = redis.pipeline();
    for (let i = 0; i < perDay; i++) {
      const at = T + d * DAY + i * 1000;
      const handoffId = `hf.hubspot.contact.${d * perDay + i}.0.mql`;
      for (const e of [
        { type: 'handoff', handoffId, detail: { score: 40 + (i % 61), ownerId: String(i % 20) }, at },
        { type: 'writeback', handoffId, detail: { speedToLeadMs: 300 + ((i * 7919) % 600_000) }, at: at + 1 },
        {
          type: 'rep_action',
          handoffId,
          detail: { ownerId: null, afterMs: (i * 104_729) % 28_800_000 },
          at: at + 2,
        },
        { type: 'converted', handoffId, detail: { stage: 'opportunity' }, at: at + 3 },
      ])
        p.xadd(k.audit, `${e.at}-*`, 'entry', JSON.stringify(e));
    }
    await p.exec();
  }
  const started = performance.now();
  const kept = await sweepAudit({
    redis,
    config,
    sharedNow: () =>
      Promise.resolve(T + (Number(process.env.KEEP ?? 1) + config.retention.auditDays) * DAY + 1),
    logger: createLogger('warn'),
    metrics: createMetrics(),
  });
  results.push(performance.now() - started);
  console.log(
    `run ${run}: kept ${kept} days of ${days} (${days * perDay * 4} entries) in ${results.at(-1)!.toFixed(0)} ms`,
  );
  await deleteByPrefix(redis, prefix);
}
console.log('median ms', results.sort((a, b) => a - b)[1]!.toFixed(0));
await redis.quit();
