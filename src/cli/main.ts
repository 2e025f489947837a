#!/usr/bin/env node
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { parseEnv } from '../config/env.js';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { QueueName } from '../queue/catalog.js';
import { Crm } from '../domain/index.js';
import type { CheckLine } from '../../connectors/check.js';
import type { Queues } from '../queue/queues.js';
import { errorText, issuesLine, printable } from './format.js';

const program = new Command()
  .name('leadflow')
  .description('Scores leads from HubSpot and Salesforce engagement and hands them to sales')
  .option('-c, --config <path>', 'config file (default: $CONFIG_PATH or config/default.yaml)');

/** Output for people: control characters in lead or CRM text never reach the terminal. */
const print = (text: string) => process.stdout.write(printable(text));
const printError = (text: string) => process.stderr.write(printable(text));

/** An option's value parsed with zod; a bad one ends the command with commander's one-line error. */
function parsed<T>(schema: z.ZodType<T>): (value: string) => T {
  return (value) => {
    const result = schema.safeParse(value);
    if (!result.success) throw new InvalidArgumentError(issuesLine(result.error));
    return result.data;
  };
}

/** Asks on the terminal (or reads the answer from piped stdin); anything but y/yes is no. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  // No stdin at all (closed, /dev/null) is a no, not a hang.
  const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
  try {
    const answer = await Promise.race([rl.question(`${question} [y/N] `), closed]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

const configPath = (env: { CONFIG_PATH: string }) =>
  program.opts<{ config?: string }>().config ?? env.CONFIG_PATH;

/** Env and config are parsed once, up front; any problem ends the process with every issue listed. */
function load() {
  const env = parseEnv();
  const config = loadConfig(configPath(env));
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
    const { unknownEventNames } = await import('../config/event-names.js');
    const unknown = unknownEventNames(config);
    if (unknown.length) throw new ConfigError(configPath(env), unknown);
    const rules = config.scoring.fit.length + config.scoring.engagement.length;
    process.stdout.write(
      `config OK: ${rules} scoring rules, MQL at ${config.thresholds.mql}, SQL at ${config.thresholds.sql}, ` +
        `hand-raise on ${config.handRaise.join(', ') || 'nothing'}, ${config.routing.reps.length} reps in ` +
        `${config.routing.rules.length} routing rules\n`,
    );
    const { hasCrmCredentials, hubspotFromEnv, salesforceFromEnv } = await import('./crms.js');
    if (!hasCrmCredentials(env, 'hubspot') && !hasCrmCredentials(env, 'salesforce'))
      printError(
        'warning: no CRM credentials are set, so the worker will not start: it needs HUBSPOT_ACCESS_TOKEN ' +
          '(or the HubSpot OAuth variables), or SALESFORCE_INSTANCE_URL with Salesforce credentials\n',
      );
    if (!opts.crm) return;
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
  const queues = openQueues(
    redis,
    config.redis.prefix,
    (err) => printError(`queue error: ${err.message}\n`),
    config.pipeline.retryBackoffMs,
  );
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
const queueName = parsed(QueueName);
type Selection = { queue?: QueueName; id?: string };

/**
 * What replay or purge act on: one job (an id no queue holds as a dead letter is an error), or all
 * of them (in a queue) with --all or a yes to the question.
 */
async function selectForAction(
  queues: Queues,
  opts: Selection & { all?: boolean },
  verb: 'replay' | 'purge',
): Promise<Selection> {
  const { listDeadLetters } = await import('../queue/dead-letters.js');
  const sel = { queue: opts.queue, id: opts.id };
  if (opts.id !== undefined) {
    if ((await listDeadLetters(queues, sel, 1)).length === 0)
      throw new Error(`no dead letter with job id ${opts.id}${opts.queue ? ` in ${opts.queue}` : ''}`);
    return sel;
  }
  if (opts.all) return sel;
  const count = (await listDeadLetters(queues, sel, 10_000)).length;
  const where = opts.queue ? ` in ${opts.queue}` : '';
  if (count === 0) return sel;
  if (!(await confirm(`${verb} all ${count} dead letter(s)${where}?`)))
    throw new Error(`nothing done: ${verb} one job with --id <jobId>, or every one with --all`);
  return sel;
}

dlq
  .command('list')
  .option(queueOption, 'only this queue (ingest, score, writeback, followup, poll)', queueName)
  .option('--json', 'machine-readable output')
  .action((opts: { queue?: QueueName; json?: boolean }) =>
    withRedis(async ({ queues }) => {
      const { listDeadLetters } = await import('../queue/dead-letters.js');
      const { formatDeadLetters } = await import('./format.js');
      const letters = await listDeadLetters(queues, { queue: opts.queue });
      if (opts.json) process.stdout.write(`${JSON.stringify(letters, null, 2)}\n`);
      else print(formatDeadLetters(letters));
    }),
  );

dlq
  .command('replay')
  .description('retry dead letters in place (same job id, so idempotency holds)')
  .option(queueOption, 'only this queue', queueName)
  .option('--id <jobId>', 'only this job')
  .option('--all', 'every dead letter (in --queue) without asking')
  .action((opts: Selection & { all?: boolean }) =>
    withRedis(async ({ queues }) => {
      const { replayDeadLetters } = await import('../queue/dead-letters.js');
      const sel = await selectForAction(queues, opts, 'replay');
      process.stdout.write(`replayed ${await replayDeadLetters(queues, sel)} job(s)\n`);
    }),
  );

dlq
  .command('purge')
  .description('delete dead letters for good')
  .option(queueOption, 'only this queue', queueName)
  .option('--id <jobId>', 'only this job')
  .option('--all', 'every dead letter (in --queue) without asking')
  .action((opts: Selection & { all?: boolean }) =>
    withRedis(async ({ queues }) => {
      const { purgeDeadLetters } = await import('../queue/dead-letters.js');
      const sel = await selectForAction(queues, opts, 'purge');
      process.stdout.write(`purged ${await purgeDeadLetters(queues, sel)} job(s)\n`);
    }),
  );

program
  .command('explain <lead>')
  .description(
    'the score breakdown of a lead, its latest handoff, routing and SLA clock ' +
      '(hubspot.contact.123, or a HubSpot contact id)',
  )
  .option('--json', 'machine-readable output')
  .action((arg: string, opts: { json?: boolean }) =>
    withRedis(async ({ config, redis }) => {
      const { explain, formatExplanation, handoffView, parseLeadArg } = await import('./explain.js');
      const { keys } = await import('../store/keys.js');
      const { HandoffStore } = await import('../store/handoffs.js');
      const { LeadStore } = await import('../store/leads.js');
      const { TimelineStore } = await import('../store/timeline.js');
      const { retentionTtls } = await import('../config/retention.js');
      const k = keys(config.redis.prefix);
      const lead = parseLeadArg(arg);
      const { leadKey } = await import('../domain/index.js');
      if ((await redis.exists(k.leadState(lead), k.timeline(lead), k.profile(lead))) === 0)
        throw new Error(
          `no lead ${leadKey(lead)} under prefix ${config.redis.prefix}: never seen, or forgotten`,
        );
      const timeline = new TimelineStore(redis, k, retentionTtls(config));
      const handoffs = new HandoffStore(redis, k);
      const [state, held, entries, history] = await Promise.all([
        new LeadStore(redis, k).get(lead),
        timeline.profile(lead),
        timeline.events(lead, 0),
        timeline.history(lead, 0),
      ]);
      const record = state.handoffId ? await handoffs.get(state.handoffId) : null;
      const handoff = record ? handoffView(record, await handoffs.progress(record.handoff.id)) : undefined;
      const now = Date.now();
      const x = explain(lead, state, held.profile, entries, config, now, history, handoff);
      if (opts.json) process.stdout.write(`${JSON.stringify(x, null, 2)}\n`);
      else print(formatExplanation(x, config, now));
    }),
  );

program
  .command('report')
  .description(
    'speed to lead, SLA compliance per rep, conversion and disqualification by score band and reason, ' +
      'handoffs per rep vs weight',
  )
  .option('--days <n>', 'only the last n days', parsed(z.coerce.number().int().positive()))
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
  .option('--crm <crm>', 'which CRM to read: hubspot or salesforce', parsed(Crm), 'hubspot' as Crm)
  .option('--restart', 'start from the first record, forgetting a saved position or a finished backfill')
  .option('--limit <n>', 'stop after this many records', parsed(z.coerce.number().int().positive()))
  .option('--dry-run', 'count the records and how many would be handed off to reps; change nothing')
  .action((opts: { crm: Crm; restart?: boolean; limit?: number; dryRun?: boolean }) =>
    withRedis(async ({ env, config, redis, queues }) => {
      const { crm } = opts;
      const { hubspotFromEnv, salesforceFromEnv } = await import('./crms.js');
      const connector = (crm === 'hubspot' ? hubspotFromEnv : salesforceFromEnv)(env, config, { redis });
      if (!connector)
        throw new Error(
          crm === 'hubspot'
            ? 'backfill needs HUBSPOT_ACCESS_TOKEN (or the HubSpot OAuth variables)'
            : 'backfill needs SALESFORCE_INSTANCE_URL and Salesforce credentials',
        );
      const { backfill } = await import('./backfill.js');
      const { progressView } = await import('./progress.js');
      const view = progressView(process.stderr, opts.dryRun ? 'read' : 'queued');
      const result = await backfill({
        connector,
        redis,
        queues,
        config,
        restart: opts.restart,
        limit: opts.limit,
        dryRun: opts.dryRun,
        progress: (p) => view.update(p),
      }).finally(() => view.stop());
      const n = result.processed.toLocaleString('en-US');
      if (result.alreadyFinishedAt !== undefined)
        process.stdout.write(
          `backfill already finished ${new Date(result.alreadyFinishedAt).toISOString()} (${n} records); ` +
            'use --restart to run it again\n',
        );
      else if (result.wouldHandOff !== undefined)
        process.stdout.write(
          `dry run: ${n} ${crm} records${result.finished ? '' : ' read (stopped at --limit)'}; ` +
            `${result.wouldHandOff.toLocaleString('en-US')} would be handed off to reps now; nothing was changed\n`,
        );
      else
        process.stdout.write(
          result.finished
            ? `backfill finished: ${n} records queued for scoring\n`
            : `backfill paused after ${n} records; run it again to go on\n`,
        );
    }),
  );

program
  .command('simulate <file>')
  .description(
    'replay an export of historical engagement (CSV, JSON or JSON lines) through the current rules',
  )
  .option(
    '--thresholds <list>',
    'MQL thresholds to compare, e.g. 40,50,60',
    parsed(
      z
        .string()
        .transform((v) => v.split(',').map(Number))
        .pipe(z.array(z.number().int().min(0).max(100))),
    ),
  )
  .option('--crm <crm>', 'which CRM the lead ids belong to', parsed(Crm), 'hubspot' as Crm)
  .option('--compare <proposed.yaml>', 'per lead, who becomes MQL/SQL or stops being one under these rules')
  .option('--json', 'machine-readable output')
  .action(
    async (file: string, opts: { thresholds?: number[]; crm: Crm; compare?: string; json?: boolean }) => {
      const config = loadConfig(program.opts<{ config?: string }>().config ?? parseEnv().CONFIG_PATH);
      const { compare, formatComparison, formatSimulation, readHistory, simulate } =
        await import('./simulate.js');
      const { knownEventTypes } = await import('../config/event-names.js');
      const proposed = opts.compare === undefined ? undefined : loadConfig(opts.compare);
      const known = new Set([...knownEventTypes(config), ...(proposed ? knownEventTypes(proposed) : [])]);
      const histories = await readHistory(file, opts.crm, known);
      if (proposed) {
        const comparison = compare(histories, config, proposed);
        if (opts.json) process.stdout.write(`${JSON.stringify(comparison, null, 2)}\n`);
        else print(formatComparison(comparison));
        return;
      }
      const report = simulate(histories, config, opts.thresholds);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else print(formatSimulation(report));
    },
  );

program.parseAsync().catch((err: unknown) => {
  printError(`${errorText(err)}\n`);
  process.exit(1);
});
