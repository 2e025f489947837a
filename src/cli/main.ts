#!/usr/bin/env node
import { Command } from 'commander';
import { z } from 'zod';
import { parseEnv } from '../config/env.js';
import { loadConfig } from '../config/load.js';
import { QueueName } from '../queue/catalog.js';
import { Crm } from '../domain/index.js';
import type { CheckLine } from '../../connectors/check.js';
import { printable } from './format.js';

const program = new Command()
  .name('leadflow')
  .description('Scores leads from HubSpot and Salesforce engagement and hands them to sales')
  .option('-c, --config <path>', 'config file (default: $CONFIG_PATH or config/default.yaml)');

/** Output for people: control characters in lead or CRM text never reach the terminal. */
const print = (text: string) => process.stdout.write(printable(text));
const printError = (text: string) => process.stderr.write(printable(text));

/** Env and config are parsed once, up front; any problem ends the process with every issue listed. */
function load() {
  const env = parseEnv();
  const config = loadConfig(program.opts<{ config?: string }>().config ?? env.CONFIG_PATH);
  return { env, config };
}

async function serve(http: boolean, worker: boolean): Promise<void> {
  const { env, config } = load();
  // Loaded on demand so `config check` and friends start without the queue and CRM stack.
  const { run } = await import('./run.js');
  const running = await run(env, config, { http, worker });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`received ${signal}, finishing in-flight work\n`);
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        printError(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

program
  .command('start')
  .description('run the webhook/HTTP server')
  .option('--with-worker', 'also run the queue workers in this process')
  .action((opts: { withWorker?: boolean }) => serve(true, opts.withWorker ?? false));

program
  .command('worker')
  .description('run the queue workers (ingest, score, writeback)')
  .action(() => serve(false, true));

const configCommand = program.command('config').description('configuration tools');

configCommand
  .command('schema')
  .description('print the JSON Schema of the config file')
  .action(async () => {
    const { configJsonSchemaText } = await import('../config/json-schema.js');
    process.stdout.write(configJsonSchemaText());
  });

configCommand
  .command('check')
  .description('validate the environment and config file without starting anything')
  .option(
    '--crm',
    'also check the config against each CRM with credentials: HubSpot properties, stages, statuses, ' +
      'owners, scopes; Salesforce fields (exist, updateable), Lead Status values, active users',
  )
  .action(async (opts: { crm?: boolean }) => {
    const { env, config } = load();
    const rules = config.scoring.fit.length + config.scoring.engagement.length;
    process.stdout.write(
      `config OK: ${rules} scoring rules, MQL at ${config.thresholds.mql}, SQL at ${config.thresholds.sql}, ` +
        `hand-raise on ${config.handRaise.join(', ') || 'nothing'}, ${config.routing.reps.length} reps in ` +
        `${config.routing.rules.length} routing rules\n`,
    );
    if (!opts.crm) return;
    const { hubspotFromEnv, salesforceFromEnv } = await import('./crms.js');
    const hubspot = hubspotFromEnv(env, config, {});
    const salesforce = salesforceFromEnv(env, config, {});
    if (!hubspot && !salesforce)
      throw new Error(
        '--crm needs HUBSPOT_ACCESS_TOKEN, or SALESFORCE_INSTANCE_URL with Salesforce credentials',
      );
    const { formatCheck } = await import('../../connectors/check.js');
    const { checkPortal, readPortalFacts, unsubscribeNeededBy } =
      await import('../../connectors/hubspot/check.js');
    const reports: { title: string; subject: string; lines: CheckLine[] }[] = [];
    if (hubspot)
      reports.push({
        title: `HubSpot portal (${env.HUBSPOT_BASE_URL})`,
        subject: 'portal',
        lines: checkPortal(
          config,
          await readPortalFacts(hubspot, config.hubspot.polling, unsubscribeNeededBy(config)),
        ),
      });
    if (salesforce) {
      const { checkSalesforceConfig } = await import('../../connectors/salesforce/check.js');
      reports.push({
        title: `Salesforce org (${env.SALESFORCE_INSTANCE_URL})`,
        subject: 'org',
        lines: await checkSalesforceConfig(salesforce, config),
      });
    }
    for (const { title, subject, lines } of reports) print(`\n${title}:\n${formatCheck(lines, subject)}`);
    if (reports.some((r) => r.lines.some((l) => l.level === 'error'))) process.exitCode = 1;
  });

/** A Redis connection and the queues, for one-shot commands; closed when `fn` is done. */
async function withRedis<T>(fn: (deps: Awaited<ReturnType<typeof openStores>>) => Promise<T>): Promise<T> {
  const deps = await openStores();
  try {
    return await fn(deps);
  } finally {
    await deps.close();
  }
}

async function openStores() {
  const { env, config } = load();
  const { connectFromEnv, whenReady } = await import('../store/redis.js');
  const { openQueues, closeQueues } = await import('../queue/queues.js');
  const redis = connectFromEnv(env, { name: 'leadflow-cli', failFast: true });
  await whenReady(redis).catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  const queues = openQueues(redis, config.redis.prefix, (err) => printError(`queue error: ${err.message}\n`));
  return {
    env,
    config,
    redis,
    queues,
    close: async () => {
      await closeQueues(queues);
      redis.disconnect();
    },
  };
}

const dlq = program.command('dlq').description('dead letters: jobs that failed for good, with the reason');
const queueOption = '--queue <name>';
const selection = (opts: { queue?: string; id?: string }) => ({
  queue: opts.queue === undefined ? undefined : QueueName.parse(opts.queue),
  id: opts.id,
});

dlq
  .command('list')
  .option(queueOption, 'only this queue (ingest, score, writeback)')
  .option('--json', 'machine-readable output')
  .action((opts: { queue?: string; json?: boolean }) =>
    withRedis(async ({ queues }) => {
      const { listDeadLetters } = await import('../queue/dead-letters.js');
      const { formatDeadLetters } = await import('./format.js');
      const letters = await listDeadLetters(queues, selection(opts));
      if (opts.json) process.stdout.write(`${JSON.stringify(letters, null, 2)}\n`);
      else print(formatDeadLetters(letters));
    }),
  );

dlq
  .command('replay')
  .description('retry dead letters in place (same job id, so idempotency holds)')
  .option(queueOption, 'only this queue')
  .option('--id <jobId>', 'only this job')
  .action((opts: { queue?: string; id?: string }) =>
    withRedis(async ({ queues }) => {
      const { replayDeadLetters } = await import('../queue/dead-letters.js');
      process.stdout.write(`replayed ${await replayDeadLetters(queues, selection(opts))} job(s)\n`);
    }),
  );

dlq
  .command('purge')
  .description('delete dead letters for good')
  .option(queueOption, 'only this queue')
  .option('--id <jobId>', 'only this job')
  .action((opts: { queue?: string; id?: string }) =>
    withRedis(async ({ queues }) => {
      const { purgeDeadLetters } = await import('../queue/dead-letters.js');
      process.stdout.write(`purged ${await purgeDeadLetters(queues, selection(opts))} job(s)\n`);
    }),
  );

program
  .command('explain <lead>')
  .description('the score breakdown of a lead (hubspot.contact.123, or a HubSpot contact id)')
  .option('--json', 'machine-readable output')
  .action((arg: string, opts: { json?: boolean }) =>
    withRedis(async ({ config, redis }) => {
      const { explain, formatExplanation, parseLeadArg } = await import('./explain.js');
      const { keys } = await import('../store/keys.js');
      const { LeadStore } = await import('../store/leads.js');
      const { TimelineStore } = await import('../store/timeline.js');
      const { retentionTtls } = await import('../config/retention.js');
      const k = keys(config.redis.prefix);
      const lead = parseLeadArg(arg);
      const timeline = new TimelineStore(redis, k, retentionTtls(config));
      const [state, held, entries, history] = await Promise.all([
        new LeadStore(redis, k).get(lead),
        timeline.profile(lead),
        timeline.events(lead, 0),
        timeline.history(lead, 0),
      ]);
      const x = explain(lead, state, held.profile, entries, config, Date.now(), history);
      if (opts.json) process.stdout.write(`${JSON.stringify(x, null, 2)}\n`);
      else print(formatExplanation(x, config.thresholds));
    }),
  );

program
  .command('report')
  .description(
    'speed to lead, SLA compliance per rep, conversion and disqualification by score band and reason, ' +
      'handoffs per rep vs weight',
  )
  .option('--days <n>', 'only the last n days', (v) => z.coerce.number().int().positive().parse(v))
  .option('--json', 'machine-readable output')
  .action((opts: { days?: number; json?: boolean }) =>
    withRedis(async ({ config, redis }) => {
      const { readReport } = await import('../reports/read.js');
      const { formatReport } = await import('./format.js');
      const report = await readReport(redis, config, opts.days);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else print(formatReport(report));
    }),
  );

program
  .command('backfill')
  .description("score the CRM's existing leads and contacts (resumable: run it again to go on)")
  .option('--crm <crm>', 'which CRM to read: hubspot or salesforce', 'hubspot')
  .option('--restart', 'start from the first record, forgetting a saved position')
  .option('--limit <n>', 'stop after this many records', (v) => z.coerce.number().int().positive().parse(v))
  .action((opts: { crm: string; restart?: boolean; limit?: number }) =>
    withRedis(async ({ env, config, redis, queues }) => {
      const crm = Crm.parse(opts.crm);
      const { hubspotFromEnv, salesforceFromEnv } = await import('./crms.js');
      const connector = (crm === 'hubspot' ? hubspotFromEnv : salesforceFromEnv)(env, config, { redis });
      if (!connector)
        throw new Error(
          crm === 'hubspot'
            ? 'backfill needs HUBSPOT_ACCESS_TOKEN (or the HubSpot OAuth variables)'
            : 'backfill needs SALESFORCE_INSTANCE_URL and Salesforce credentials',
        );
      const { backfill } = await import('./backfill.js');
      const tty = process.stderr.isTTY;
      const result = await backfill({
        connector,
        redis,
        queues,
        config,
        restart: opts.restart,
        limit: opts.limit,
        progress: (done, perSecond) =>
          process.stderr.write(
            `${tty ? '\r' : ''}backfill: ${done.toLocaleString('en-US')} records queued (${Math.round(perSecond)}/s)${tty ? '' : '\n'}`,
          ),
      });
      if (tty) process.stderr.write('\n');
      process.stdout.write(
        result.finished
          ? `backfill finished: ${result.processed} records queued for scoring\n`
          : `backfill paused after ${result.processed} records; run it again to go on\n`,
      );
    }),
  );

program
  .command('simulate <file>')
  .description('replay an export of historical engagement (CSV or JSON) through the current rules')
  .option('--thresholds <list>', 'MQL thresholds to compare, e.g. 40,50,60', (v) =>
    z.array(z.coerce.number().int().min(0).max(100)).parse(v.split(',')),
  )
  .option('--crm <crm>', 'which CRM the lead ids belong to', 'hubspot')
  .option('--json', 'machine-readable output')
  .action(async (file: string, opts: { thresholds?: number[]; crm: string; json?: boolean }) => {
    const config = loadConfig(program.opts<{ config?: string }>().config ?? parseEnv().CONFIG_PATH);
    const { formatSimulation, loadHistory, simulate } = await import('./simulate.js');
    const report = simulate(loadHistory(file, Crm.parse(opts.crm)), config, opts.thresholds);
    if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else print(formatSimulation(report));
  });

program.parseAsync().catch((err: unknown) => {
  // ConfigError and HistoryError messages list every problem; others are one line.
  printError(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
