import type { Server } from 'node:http';
import type { Worker } from 'bullmq';
import type { RedisClient } from '../store/redis.js';
import { SalesforceCdcSubscriber } from '../../connectors/salesforce/cdc.js';
import type { Env } from '../config/env.js';
import type { Config } from '../config/schema.js';
import type { LeadRef } from '../domain/index.js';
import type { CrmConnector } from '../../connectors/types.js';
import { createApp } from '../http/app.js';
import { boundPort, createHttpServer, listen } from '../http/server.js';
import { createMetricsApp } from '../http/metrics.js';
import { createLogger, type Logger } from '../logger.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { createJobContext } from '../queue/context.js';
import { closeQueues, openQueues, schedulePolls } from '../queue/queues.js';
import { registerQueueDepth } from '../queue/depth.js';
import { processors } from '../../jobs/index.js';
import { startWorkers, workerOptions } from '../queue/workers.js';
import { keepSweepingDeadLetters } from '../queue/dead-letters.js';
import { keepSweepingAudit } from '../reports/rollup.js';
import { keys } from '../store/keys.js';
import { assertNoEviction, connectFromEnv } from '../store/redis.js';
import { connectCrms, hubspotFromEnv, salesforceFromEnv } from './crms.js';
import { alertChannels } from '../alerts/index.js';
import { guardRedisData } from './redis-guard.js';

export interface Running {
  /** Stops taking work, lets in-flight requests and jobs finish, then closes connections. */
  stop(): Promise<void>;
  server?: Server;
  workers: Worker[];
  /** This process's metrics, on /metrics: the HTTP server's, or METRICS_PORT's in a worker without it. */
  metrics: Metrics;
}

export interface RunOptions {
  http: boolean;
  worker: boolean;
  logger?: Logger;
}

/**
 * Owners and option labels, read before the first job instead of by the first handoff: a burst's
 * first lead waited two more round trips for them. A failed read is logged, and read again by the
 * first handoff that needs it.
 */
async function readHandoffMetadata(connectors: CrmConnector[], logger: Logger): Promise<void> {
  const read = (connector: CrmConnector, what: string, reading: Promise<unknown>) =>
    reading.catch((err: unknown) =>
      logger.warn({ crm: connector.crm, err: (err as Error).message }, `${what} not read at start`),
    );
  await Promise.all(
    connectors.flatMap((c) => [read(c, 'owners', c.owners()), read(c, 'option labels', c.fieldLabels())]),
  );
}

/** Starts the HTTP server, the workers, or both in one process. */
export async function run(env: Env, config: Config, opts: RunOptions): Promise<Running> {
  const logger = opts.logger ?? createLogger(env.LOG_LEVEL);
  const metrics = createMetrics({ defaults: true });
  const connections: RedisClient[] = [];
  // Closed in order on stop: first what takes work in, then queues, then connections.
  const closers: (() => Promise<void>)[] = [];
  const connect = (name: string, failFast: boolean) => {
    const redis = connectFromEnv(env, { name, failFast });
    redis.on('error', (err: Error) =>
      logger.warn({ connection: name, err: err.message }, 'redis connection error'),
    );
    connections.push(redis);
    return redis;
  };

  const onQueueError = (err: Error) => logger.warn({ err: err.message }, 'queue error');
  const control = connect('leadflow-control', false);
  await assertNoEviction(control);
  const stopGuard = await guardRedisData(control, config, logger, metrics);
  closers.push(() => Promise.resolve(stopGuard()));

  let server: Server | undefined;
  if (opts.http) {
    const producer = connect('leadflow-producer', true);
    const queues = openQueues(producer, config.redis.prefix, onQueueError, config.pipeline.retryBackoffMs);
    registerQueueDepth(metrics.registry, queues, (err) =>
      logger.warn({ err: err.message }, 'queue depth not counted'),
    );
    const app = createApp({
      checkCrm: cachedCrmCheck(env, config, producer),
      config,
      hubspotClientSecret: env.HUBSPOT_CLIENT_SECRET,
      salesforceOrgId: env.SALESFORCE_ORG_ID,
      salesforceOutboundToken: env.SALESFORCE_OUTBOUND_TOKEN,
      salesforceOutboundTokenPrevious: env.SALESFORCE_OUTBOUND_TOKEN_PREVIOUS,
      eventsSigningSecret: env.EVENTS_SIGNING_SECRET,
      adminToken: env.ADMIN_TOKEN,
      recordUrl: recordUrls(env, config, producer),
      metricsToken: env.METRICS_TOKEN,
      queues,
      redis: producer,
      logger,
      metrics,
    });
    const listening = await listen(createHttpServer(app, config.http), env.PORT, env.HOST);
    server = listening;
    closers.push(() => new Promise<void>((resolve) => listening.close(() => resolve())));
    closers.push(() => closeQueues(queues));
    logger.info({ port: boundPort(listening, env.PORT) }, 'http server listening');
  }

  let workers: Worker[] = [];
  if (opts.worker) {
    const redis = connect('leadflow-worker', false);
    const crms = connectCrms(env, config, { redis, metrics, logger });
    const queues = openQueues(redis, config.redis.prefix, onQueueError, config.pipeline.retryBackoffMs);
    for (const connector of crms.connectors) await connector.ensureSchema();
    await readHandoffMetadata(crms.connectors, logger);
    const alerts = alertChannels(env, config);
    const ctx = createJobContext({
      config,
      redis,
      queues,
      connectors: crms.connectors,
      engagementSources: crms.engagementSources,
      alerts,
      logger,
      metrics,
    });
    await schedulePolls(queues, config);
    const concurrency = workerOptions(env, config.pipeline);
    const started = startWorkers(ctx, processors, concurrency);
    workers = started;
    await Promise.all(started.map((w) => w.waitUntilReady()));
    const stopSweeps = [keepSweepingDeadLetters(ctx), keepSweepingAudit(ctx)];
    closers.unshift(async () => {
      for (const stop of stopSweeps) stop();
      await Promise.all(started.map((w) => w.close()));
    });
    closers.push(() => closeQueues(queues));
    // connectCrms has checked that CDC has its org id.
    if (crms.salesforce && config.salesforce.cdc && env.SALESFORCE_ORG_ID) {
      const cdc = new SalesforceCdcSubscriber({
        conn: crms.salesforce.connection,
        redis,
        keys: keys(config.redis.prefix),
        queues,
        fields: config.salesforce.fields,
        channels: config.salesforce.cdc.channels,
        orgId: env.SALESFORCE_ORG_ID,
        logger,
        metrics,
      });
      await cdc.start();
      // Before the workers close: no new changes come in while the last jobs finish.
      closers.unshift(() => cdc.stop());
    }
    // Without the HTTP server in this process, its own metrics would reach no one.
    if (!opts.http) {
      const metricsServer = await listen(
        createHttpServer(createMetricsApp(metrics, env.METRICS_TOKEN), config.http),
        env.METRICS_PORT,
        env.HOST,
      );
      closers.push(() => new Promise<void>((resolve) => metricsServer.close(() => resolve())));
      logger.info({ metricsPort: boundPort(metricsServer, env.METRICS_PORT) }, 'metrics server listening');
    }
    logger.info(
      {
        concurrency: concurrency.concurrency,
        computing: concurrency.computing,
        crms: crms.connectors.map((c) => c.crm),
        alerts: alerts.map((a) => a.name),
      },
      'workers started',
    );
  }

  return {
    server,
    workers,
    metrics,
    async stop() {
      logger.info('shutting down');
      for (const close of closers) await close();
      await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
      logger.info('stopped');
    },
  };
}

/**
 * The dashboard's links to CRM records, from the connectors the environment has credentials for
 * (HubSpot reads its portal's details once for them).
 */
function recordUrls(
  env: Env,
  config: Config,
  redis: RedisClient,
): ((lead: LeadRef) => Promise<string>) | undefined {
  const connectors = [hubspotFromEnv(env, config, { redis }), salesforceFromEnv(env, config, { redis })];
  if (!connectors.some(Boolean)) return undefined;
  return async (lead) => {
    const connector = connectors.find((c) => c?.crm === lead.crm);
    if (!connector) throw new Error(`no ${lead.crm} credentials for a link`);
    return connector.recordUrl(lead);
  };
}

/**
 * /readyz proves each CRM's credentials still work, at most once a minute so probes cost the CRMs
 * nothing; undefined when no CRM is configured (the HTTP server alone only queues).
 */
function cachedCrmCheck(env: Env, config: Config, redis: RedisClient): (() => Promise<void>) | undefined {
  const probe = { redis, timeoutMs: 4_000 };
  const probes = [hubspotFromEnv(env, config, probe), salesforceFromEnv(env, config, probe)].flatMap((c) =>
    c ? [{ crm: c.crm, check: () => c.listLeads(undefined, 1) }] : [],
  );
  if (probes.length === 0) return undefined;
  let last: { at: number; error?: Error } | undefined;
  return async () => {
    if (!last || Date.now() - last.at > 60_000) {
      const at = Date.now();
      last = await Promise.all(
        probes.map(({ crm, check }) =>
          check().catch((err: unknown) => {
            throw new Error(`${crm} credentials check failed: ${(err as Error).message}`);
          }),
        ),
      ).then(
        () => ({ at }),
        (error: unknown) => ({ at, error: error as Error }),
      );
    }
    if (last.error) throw last.error;
  };
}
