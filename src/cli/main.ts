#!/usr/bin/env node
import { Command } from 'commander';
import { parseEnv } from '../config/env.js';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';

const program = new Command()
  .name('leadflow')
  .description('Scores leads from HubSpot engagement and hands them to sales')
  .option('-c, --config <path>', 'config file (default: $CONFIG_PATH or config/default.yaml)');

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
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
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

program
  .command('config')
  .description('configuration tools')
  .command('check')
  .description('validate the environment and config file without starting anything')
  .action(() => {
    const { config } = load();
    const rules = config.scoring.fit.length + config.scoring.engagement.length;
    process.stdout.write(
      `config OK: ${rules} scoring rules, MQL at ${config.thresholds.mql}, SQL at ${config.thresholds.sql}, ` +
        `hand-raise on ${config.handRaise.join(', ') || 'nothing'}\n`,
    );
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(
    `${err instanceof ConfigError ? err.message : String((err as Error)?.message ?? err)}\n`,
  );
  process.exit(1);
});
