import type { Server } from 'node:http';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { HubSpotOAuth } from '../../connectors/hubspot/oauth.js';
import { HubSpotPoller } from '../../connectors/hubspot/poller.js';
import type { Env } from '../config/env.js';
import type { Config } from '../config/schema.js';
import { createApp } from '../http/app.js';
import { createLogger, type Logger } from '../logger.js';
import { createMetrics } from '../metrics.js';
import { createJobContext } from '../queue/context.js';
import { closeQueues, openQueues, schedulePolls } from '../queue/queues.js';
import { startWorkers } from '../queue/workers.js';
import { keys } from '../store/keys.js';
import { RateBudget } from '../store/rate-budget.js';
import { assertNoEviction, connectRedis } from '../store/redis.js';

export interface Running {
  /** Stops taking work, lets in-flight requests and jobs finish, then closes connections. */
  stop(): Promise<void>;
  server?: Server;
  workers: Worker[];
}

export interface RunOptions {
  http: boolean;
  worker: boolean;
  logger?: Logger;
}

/** Starts the HTTP server, the workers, or both in one process. */
export async function run(env: Env, config: Config, opts: RunOptions): Promise<Running> {
  const logger = opts.logger ?? createLogger(env.LOG_LEVEL);
  const metrics = createMetrics({ defaults: true });
  const connections: Redis[] = [];
  // Closed in order on stop: first what takes work in, then queues, then connections.
  const closers: (() => Promise<void>)[] = [];
  const connect = (name: string, failFast: boolean) => {
    const redis = connectRedis(env.REDIS_URL, { name, failFast });
    redis.on('error', (err) => logger.warn({ connection: name, err: err.message }, 'redis connection error'));
    connections.push(redis);
    return redis;
  };

  const onQueueError = (err: Error) => logger.warn({ err: err.message }, 'queue error');
  await assertNoEviction(connect('leadflow-control', false));

  let server: Server | undefined;
  if (opts.http) {
    const producer = connect('leadflow-producer', true);
    const queues = openQueues(producer, config.redis.prefix, onQueueError);
    const auth = hubspotAuth(env, producer, config);
    const app = createApp({
      checkCrm: auth ? cachedCrmCheck(auth, env.HUBSPOT_BASE_URL, config) : undefined,
      config,
      hubspotClientSecret: env.HUBSPOT_CLIENT_SECRET,
      eventsSigningSecret: env.EVENTS_SIGNING_SECRET,
      adminToken: env.ADMIN_TOKEN,
      queues,
      redis: producer,
      logger,
      metrics,
    });
    const listening = await new Promise<Server>((resolve) => {
      const s = app.listen(env.PORT, env.HOST, () => resolve(s));
    });
    server = listening;
    closers.push(() => new Promise<void>((resolve) => listening.close(() => resolve())));
    closers.push(() => closeQueues(queues));
    const address = listening.address();
    logger.info(
      { port: typeof address === 'object' && address ? address.port : env.PORT },
      'http server listening',
    );
  }

  let workers: Worker[] = [];
  if (opts.worker) {
    const redis = connect('leadflow-worker', false);
    const auth = hubspotAuth(env, redis, config);
    if (!auth)
      throw new Error(
        'the worker needs HUBSPOT_ACCESS_TOKEN (private app) or HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET ' +
          'and HUBSPOT_REFRESH_TOKEN (OAuth app) to write to HubSpot',
      );
    const queues = openQueues(redis, config.redis.prefix, onQueueError);
    const connector = createHubSpotConnector({
      ...auth,
      basePath: env.HUBSPOT_BASE_URL,
      fields: config.hubspot.fields,
      timeoutMs: config.hubspot.timeoutMs,
      budget: new RateBudget(redis, keys(config.redis.prefix).budget('hubspot'), {
        max: config.hubspot.requestsPer10s,
        intervalMs: 10_000,
      }),
      searchBudget: new RateBudget(redis, keys(config.redis.prefix).budget('hubspot-search'), {
        max: config.hubspot.searchPerSecond,
        intervalMs: 1_000,
      }),
      onCall: ({ endpoint, outcome, seconds, budgetWaitSeconds }) => {
        metrics.crmRequests.inc({ crm: 'hubspot', endpoint, outcome });
        metrics.crmLatency.observe({ crm: 'hubspot', endpoint }, seconds);
        if (budgetWaitSeconds > 0) metrics.budgetWaits.observe({ crm: 'hubspot' }, budgetWaitSeconds);
      },
    });
    await connector.ensureSchema();
    const ctx = createJobContext({
      config,
      redis,
      queues,
      connectors: [connector],
      engagementSources: { hubspot: new HubSpotPoller(connector, config.hubspot.polling) },
      logger,
      metrics,
    });
    await schedulePolls(queues, config);
    const started = startWorkers(ctx, { concurrency: env.WORKER_CONCURRENCY });
    workers = started;
    await Promise.all(started.map((w) => w.waitUntilReady()));
    closers.unshift(async () => {
      await Promise.all(started.map((w) => w.close()));
    });
    closers.push(() => closeQueues(queues));
    logger.info({ concurrency: env.WORKER_CONCURRENCY }, 'workers started');
  }

  return {
    server,
    workers,
    async stop() {
      logger.info('shutting down');
      for (const close of closers) await close();
      await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
      logger.info('stopped');
    },
  };
}

type HubSpotAuth = { accessToken: string } | { oauth: HubSpotOAuth };

/** A private app's token, or OAuth tokens refreshed through Redis; undefined when neither is set. */
function hubspotAuth(env: Env, redis: Redis, config: Config): HubSpotAuth | undefined {
  if (env.HUBSPOT_ACCESS_TOKEN) return { accessToken: env.HUBSPOT_ACCESS_TOKEN };
  if (!env.HUBSPOT_CLIENT_ID || !env.HUBSPOT_CLIENT_SECRET || !env.HUBSPOT_REFRESH_TOKEN) return undefined;
  return {
    oauth: new HubSpotOAuth(redis, keys(config.redis.prefix).oauth('hubspot'), {
      clientId: env.HUBSPOT_CLIENT_ID,
      clientSecret: env.HUBSPOT_CLIENT_SECRET,
      refreshToken: env.HUBSPOT_REFRESH_TOKEN,
      basePath: env.HUBSPOT_BASE_URL,
    }),
  };
}

/** /readyz proves the token still works, at most once a minute so probes cost the portal nothing. */
function cachedCrmCheck(auth: HubSpotAuth, basePath: string, config: Config): () => Promise<void> {
  const connector = createHubSpotConnector({
    ...auth,
    basePath,
    fields: config.hubspot.fields,
    timeoutMs: 4_000,
  });
  let last: { at: number; error?: Error } | undefined;
  return async () => {
    if (!last || Date.now() - last.at > 60_000) {
      last = await connector.listLeads(undefined, 1).then(
        () => ({ at: Date.now() }),
        (err: unknown) => ({ at: Date.now(), error: err as Error }),
      );
    }
    if (last.error) throw new Error(`HubSpot token check failed: ${last.error.message}`);
  };
}
