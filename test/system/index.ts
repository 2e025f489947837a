/**
 * The whole system on this machine, for the demo, the benchmark, end-to-end and fault tests: the CRM
 * sandbox, a Redis key prefix, the HTTP server and the workers — in this process, or as `leadflow`
 * processes of their own (for crash, signal and scaling runs). `close()` stops it all and deletes the
 * prefix's keys.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { stringify } from 'yaml';
import { run, type Running } from '../../src/cli/run.js';
import { parseEnv } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { deleteByPrefix, type RedisClient } from '../../src/store/redis.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox, type Sandbox, type SandboxOptions } from '../sandbox/index.js';
import { freePort } from '../sandbox/redis-server.js';
import {
  deliverHubSpot,
  postEvents,
  postHubSpot,
  sendOutboundMessage,
  type PostOptions,
} from './webhooks.js';

/** What the system's senders sign with and its clients present; never real credentials. */
export const SECRETS = {
  hubspotClientSecret: 'sandbox-client-secret',
  hubspotToken: 'sandbox-token',
  eventsSigningSecret: 'sandbox-events-signing-secret',
  salesforceToken: 'sandbox-sf-token',
  /** The secret last segment of the Outbound Message endpoint URL the sandbox org sends to. */
  salesforceOutboundToken: 'sandbox-outbound-message-token-0123456789',
} as const;

/** The environment that points leadflow at the sandbox's HubSpot portal. */
export const hubspotEnv = (sandbox: Sandbox): Record<string, string> => ({
  HUBSPOT_ACCESS_TOKEN: SECRETS.hubspotToken,
  HUBSPOT_CLIENT_SECRET: SECRETS.hubspotClientSecret,
  HUBSPOT_BASE_URL: sandbox.url,
});

/** The environment that points leadflow at the sandbox's Salesforce org, with generic events on. */
export const salesforceEnv = (sandbox: Sandbox): Record<string, string> => ({
  SALESFORCE_INSTANCE_URL: sandbox.url,
  SALESFORCE_ACCESS_TOKEN: SECRETS.salesforceToken,
  SALESFORCE_ORG_ID: sandbox.salesforce.orgId,
  SALESFORCE_OUTBOUND_TOKEN: SECRETS.salesforceOutboundToken,
  EVENTS_SIGNING_SECRET: SECRETS.eventsSigningSecret,
});

export interface SystemOptions {
  redisUrl: string;
  /** A Redis Cluster's nodes (`host:port,…`): leadflow and the system's own connection use it instead. */
  redisClusterNodes?: string;
  /** Hash-tagged; a fresh random one unless given. */
  prefix?: string;
  /** The sandbox to use (left open by `close()`), or options for a fresh one. */
  sandbox?: Sandbox | SandboxOptions;
  /** Fills the fresh sandbox before leadflow starts. */
  seed?: (sandbox: Sandbox) => void;
  /** The config file, `config/default.yaml` unless given; its prefix is replaced by the system's. */
  configFile?: string;
  adjust?: (config: Config) => Config;
  /** CRM credentials and other variables; `hubspotEnv` unless given. */
  env?: (sandbox: Sandbox) => Record<string, string>;
  /**
   * `in-process` (default): `run()` here, with the server unless `http: false` and workers unless
   * `workers: 0`. `processes`: a `leadflow start` process and `workers` `leadflow worker` processes.
   */
  mode?: 'in-process' | 'processes';
  http?: boolean;
  workers?: number;
  /** In-process only; silent unless given. */
  logger?: Logger;
}

export interface System {
  sandbox: Sandbox;
  /** A connection of the system's own on the same Redis, for looking at state. */
  redis: RedisClient;
  prefix: string;
  config: Config;
  /** `http://127.0.0.1:<port>` of the server. */
  baseUrl: string;
  running?: Running;
  /** In `processes` mode: the server and the workers started so far. */
  server?: LeadflowProcess;
  workers: LeadflowProcess[];
  /** In `processes` mode: one more worker process, started. */
  startWorker(): Promise<LeadflowProcess>;
  /** Signed deliveries to this system's webhooks (each answers the HTTP status, 0 for none). */
  post: {
    hubspot(events: object[] | string, opts?: PostOptions): Promise<number>;
    /** Retried until accepted, as HubSpot does; the number of refused attempts. */
    deliverHubSpot(events: object[], timeoutMs?: number): Promise<number>;
    events(payload: object, opts?: PostOptions): Promise<number>;
    salesforce: (
      message: Parameters<typeof sendOutboundMessage>[1],
    ) => ReturnType<typeof sendOutboundMessage>;
  };
  /** Stops leadflow (processes by `signal`); the sandbox and the keys stay. Once, however often called. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops leadflow, closes a sandbox it started and deletes the prefix's keys. */
  close(signal?: NodeJS.Signals): Promise<void>;
}

export async function startSystem(opts: SystemOptions): Promise<System> {
  const ownSandbox = !(opts.sandbox && 'url' in opts.sandbox);
  const sandbox =
    opts.sandbox && 'url' in opts.sandbox ? opts.sandbox : await startSandbox(opts.sandbox ?? {});
  opts.seed?.(sandbox);
  const prefix = opts.prefix ?? `{leadflow-system-${randomBytes(4).toString('hex')}}`;
  const base = loadConfig(opts.configFile ?? 'config/default.yaml');
  const config = (opts.adjust ?? ((c) => c))({ ...base, redis: { ...base.redis, prefix } });
  const redisEnv = {
    REDIS_URL: opts.redisUrl,
    ...(opts.redisClusterNodes ? { REDIS_CLUSTER_NODES: opts.redisClusterNodes } : {}),
  };
  const clusterNodes = parseEnv(redisEnv).REDIS_CLUSTER_NODES;
  const redis: RedisClient = clusterNodes ? new Cluster(clusterNodes) : new Redis(opts.redisUrl);
  // It reconnects by itself; fault tests take Redis away on purpose.
  redis.on('error', () => undefined);
  await deleteByPrefix(redis, prefix);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    ...redisEnv,
    PORT: String(port),
    HOST: '127.0.0.1',
    // A worker without the server serves its metrics on a port of its own: any free one, so many can run.
    METRICS_PORT: '0',
    ...(opts.env ?? hubspotEnv)(sandbox),
  };

  const workers: LeadflowProcess[] = [];
  let server: LeadflowProcess | undefined;
  let running: Running | undefined;
  let startWorker = (): Promise<LeadflowProcess> => {
    throw new Error('startWorker: only in processes mode');
  };
  if (opts.mode === 'processes') {
    const configPath = join(mkdtempSync(join(tmpdir(), 'leadflow-system-')), 'config.yaml');
    writeFileSync(configPath, stringify(config));
    startWorker = async () => {
      const worker = new LeadflowProcess('worker', env, configPath);
      workers.push(worker);
      await worker.start();
      return worker;
    };
    server = new LeadflowProcess('start', env, configPath);
    await server.start();
    await Promise.all(Array.from({ length: opts.workers ?? 1 }, startWorker));
  } else {
    running = await run(parseEnv(env), config, {
      http: opts.http ?? true,
      worker: (opts.workers ?? 1) > 0,
      logger: opts.logger ?? createLogger('silent'),
    });
  }

  let stopped: Promise<void> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM') =>
    (stopped ??= (async () => {
      await running?.stop();
      for (const child of [...workers, ...(server ? [server] : [])]) await child.stop(signal);
    })());
  const webhook = (name: string) => `${baseUrl}/webhooks/${name}`;
  const { hubspotClientSecret, eventsSigningSecret, salesforceOutboundToken } = SECRETS;
  return {
    sandbox,
    redis,
    prefix,
    config,
    baseUrl,
    running,
    server,
    workers,
    startWorker,
    post: {
      hubspot: (events, o) => postHubSpot(webhook('hubspot'), events, hubspotClientSecret, o),
      deliverHubSpot: (events, t) => deliverHubSpot(webhook('hubspot'), events, hubspotClientSecret, t),
      events: (payload, o) => postEvents(webhook('events'), payload, eventsSigningSecret, o),
      // The endpoint URL as configured in the org's Outbound Message, secret included.
      salesforce: (message) =>
        sendOutboundMessage(`${webhook('salesforce')}/${salesforceOutboundToken}`, message),
    },
    stop,
    async close(signal) {
      await stop(signal);
      if (ownSandbox) await sandbox.close();
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

/** A `leadflow` process (server or worker) of its own, for crash, signal and scaling runs. */
export class LeadflowProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    private readonly role: 'start' | 'worker',
    private readonly env: Record<string, string>,
    private readonly configPath: string,
  ) {}

  /** Resolves once it says it serves (server) or works (worker). */
  async start(): Promise<void> {
    this.output = '';
    const child = spawnCli(['--config', this.configPath, this.role], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    const ready = this.role === 'start' ? 'http server listening' : 'workers started';
    await waitFor(() => this.output.includes(ready), { what: `${this.role} to start`, timeoutMs: 30_000 });
  }

  /** Sends the signal and resolves with the exit code (null when killed by the signal). */
  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }
}
