import type { RedisClient } from '../store/redis.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { EpochWatch } from '../store/epoch.js';
import { keys } from '../store/keys.js';
import { NoPersistenceError, readPersistence } from '../store/persistence.js';

/**
 * What every process checks of its Redis at start, besides the eviction policy: that a restart
 * keeps the data (warn or refuse, by `redis.persistence`), and from then on that it has not lost it
 * (the epoch watch, stopped by the returned function).
 */
export async function guardRedisData(
  redis: RedisClient,
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<() => void> {
  const persistence = await readPersistence(redis);
  if (persistence.kind === 'none') {
    const problem = new NoPersistenceError();
    if (config.redis.persistence === 'refuse') throw problem;
    logger.warn(problem.message);
  } else if (persistence.kind === 'unknown') {
    logger.warn(
      { err: persistence.why },
      'Redis persistence unknown (CONFIG GET refused): make sure AOF or RDB snapshots are on',
    );
  }

  const { recoveryHours, checkEveryMs } = config.redis.dataLoss;
  const watch = new EpochWatch(redis, keys(config.redis.prefix), {
    recoveryMs: recoveryHours * 3_600_000,
    checkEveryMs,
    onCheck: (found, recovering) => {
      metrics.redisDataLoss.set(recovering ? 1 : 0);
      if (found === 'lost')
        logger.error(
          { recoveryHours },
          'Redis lost its data (its epoch key is gone or new): idempotency records are gone, so notes and ' +
            'tasks are looked up in the CRM before any is created; run Redis with appendonly yes',
        );
    },
    onError: (err) => logger.warn({ err: err.message }, 'Redis epoch check failed'),
  });
  await watch.start();
  return () => watch.stop();
}
