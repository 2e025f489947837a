import { Redis, type RedisOptions } from 'ioredis';

/**
 * A connection for BullMQ workers and our own state. `maxRetriesPerRequest: null` is what BullMQ
 * requires of blocking connections; producers (the HTTP server) pass `failFast` so a down Redis
 * turns into a 503 instead of a request that hangs in ioredis' offline queue.
 */
export function connectRedis(url: string, opts: { failFast?: boolean; name?: string } = {}): Redis {
  const options: RedisOptions = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.failFast ? 1 : null,
    enableOfflineQueue: !opts.failFast,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
  return new Redis(url, options);
}

/**
 * Resolves once a fail-fast connection can take commands: with its offline queue off, a command sent
 * before the handshake fails at once. Rejects with the last connection error after `timeoutMs`.
 */
export async function whenReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
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

/** Evicting policies silently drop queue and state keys; refuse to run on them. */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const reply = await redis.config('GET', 'maxmemory-policy');
  const policy = reply[1];
  if (policy !== undefined && policy !== 'noeviction') {
    throw new Error(
      `Redis maxmemory-policy is "${policy}"; leadflow needs "noeviction" (CONFIG SET maxmemory-policy noeviction)`,
    );
  }
}

/** Deletes every key under a prefix (tests, the demo and the benchmark clean up after themselves). */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.del(...found);
  } while (cursor !== '0');
}

/** Redis' clock in ms (`TIME`): one notion of now for every process, whatever their own clocks say. */
export async function redisTime(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
