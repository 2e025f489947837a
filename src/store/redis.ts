import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Env } from '../config/env.js';
import { withScripts } from './scripts.js';

/**
 * A connection to one Redis server or to a Redis Cluster. Both take the same commands; every key
 * shares the prefix's hash tag, so on a cluster they all live on the node that owns its one slot.
 */
export type RedisClient = Redis | Cluster;

interface ConnectOptions {
  failFast?: boolean;
  name?: string;
  /** The CA that signed the servers' certificates, for TLS; the system's CAs when absent. */
  ca?: string;
}

/** REDIS_CLUSTER_NODES when set (a Cluster client), else REDIS_URL. */
export function connectFromEnv(
  env: Pick<Env, 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'REDIS_TLS_CA_FILE'>,
  opts: ConnectOptions = {},
): RedisClient {
  const ca = env.REDIS_TLS_CA_FILE ? readFileSync(env.REDIS_TLS_CA_FILE, 'utf8') : undefined;
  return env.REDIS_CLUSTER_NODES
    ? connectCluster(env.REDIS_CLUSTER_NODES, { ...opts, ca })
    : connectRedis(env.REDIS_URL, { ...opts, ca });
}

/**
 * A connection for BullMQ workers and our own state. `maxRetriesPerRequest: null` is what BullMQ
 * requires of blocking connections; producers (the HTTP server) pass `failFast` so a down Redis
 * turns into a 503 instead of a request that hangs in ioredis' offline queue.
 */
export function connectRedis(url: string, opts: ConnectOptions = {}): Redis {
  // ioredis turns TLS on for rediss:// itself; a private CA has to be handed to it.
  return new Redis(url, {
    ...nodeOptions(opts),
    ...(opts.ca && url.startsWith('rediss:') ? { tls: { ca: opts.ca } } : {}),
  });
}

function nodeOptions(opts: ConnectOptions): RedisOptions {
  return {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.failFast ? 1 : null,
    enableOfflineQueue: !opts.failFast,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
}

/**
 * The same, for a Redis Cluster. BullMQ reads `maxRetriesPerRequest` from `redisOptions` (null for
 * its blocking connections); the offline queue is the cluster's own, so fail-fast turns it off there.
 * A node that restarts is reconnected on the same schedule as a single server.
 */
export function connectCluster(nodes: ClusterSeed[], opts: ConnectOptions = {}): Cluster {
  // Every node is reached as the seeds are: the same credentials, TLS with the same CA.
  const { tls, username, password } = nodes[0] ?? { tls: false };
  return new Cluster(
    nodes.map(({ host, port }) => ({ host, port })),
    {
      redisOptions: {
        ...nodeOptions(opts),
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        ...(tls ? { tls: opts.ca ? { ca: opts.ca } : {} } : {}),
      },
      enableOfflineQueue: !opts.failFast,
      lazyConnect: false,
      clusterRetryStrategy: (times) => Math.min(times * 200, 2_000),
    },
  );
}

type ClusterSeed = NonNullable<Env['REDIS_CLUSTER_NODES']>[number];

/**
 * Resolves once a fail-fast connection can take commands: with its offline queue off, a command sent
 * before the handshake fails at once. Rejects with the last connection error after `timeoutMs`.
 */
export async function whenReady(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  let lastError: Error | undefined;
  const onError = (err: Error) => (lastError = err);
  redis.on('error', onError);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      timer = setTimeout(() => {
        redis.off('ready', resolve);
        reject(new Error(`Redis not reachable after ${timeoutMs} ms: ${lastError?.message ?? 'no answer'}`));
      }, timeoutMs);
    });
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
  }
}

/**
 * The servers behind a connection: itself, or every master of a cluster. CONFIG and SCAN answer for
 * one server only, so on a cluster they are sent to each master; its node list is known once it answers.
 */
export async function servers(redis: RedisClient): Promise<Redis[]> {
  if (!(redis instanceof Cluster)) return [redis];
  await redis.ping();
  return redis.nodes('master');
}

/** Evicting policies silently drop queue and state keys; refuse to run on them. */
export async function assertNoEviction(redis: RedisClient): Promise<void> {
  for (const server of await servers(redis)) {
    const reply = await server.config('GET', 'maxmemory-policy');
    const policy = reply[1];
    if (policy !== undefined && policy !== 'noeviction') {
      throw new Error(
        `Redis maxmemory-policy is "${policy}"; leadflow needs "noeviction" (CONFIG SET maxmemory-policy noeviction)`,
      );
    }
  }
}

/** Deletes every key under a prefix (tests, the demo and the benchmark clean up after themselves). */
export async function deleteByPrefix(redis: RedisClient, prefix: string): Promise<void> {
  for (const server of await servers(redis)) {
    let cursor = '0';
    do {
      const [next, found] = await server.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (found.length) await server.del(...found);
    } while (cursor !== '0');
  }
}

/**
 * Redis' clock in ms: one notion of now for every process, whatever their own clocks say. Read on the
 * node that holds `clock` (`keys().clock`): on a cluster, the one whose clock the scripts read.
 */
export async function redisTime(redis: RedisClient, clock: string): Promise<number> {
  return withScripts(redis).leadflowNow(clock);
}
