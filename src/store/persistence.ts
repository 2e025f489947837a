import type { Redis } from 'ioredis';
import { servers, type RedisClient } from './redis.js';

/** Whether a restart of this Redis keeps its data, as `CONFIG GET` reports it. */
export type Persistence =
  | { kind: 'aof' | 'rdb' | 'aof+rdb' }
  | { kind: 'none' }
  /** CONFIG refused (managed Redis often renames or denies it): why. */
  | { kind: 'unknown'; why: string };

/**
 * AOF is on with `appendonly yes`; RDB snapshots with a non-empty `save` schedule. Neither: a
 * restart comes back empty, and with it every queue and idempotency record. On a cluster each master
 * answers for itself: the weakest one counts (unknown, then none), else the first's.
 */
export async function readPersistence(redis: RedisClient): Promise<Persistence> {
  let found: Persistence[];
  try {
    found = await Promise.all((await servers(redis)).map(readOne));
  } catch (err) {
    return { kind: 'unknown', why: (err as Error).message };
  }
  return (
    found.find((p) => p.kind === 'unknown') ??
    found.find((p) => p.kind === 'none') ??
    found[0] ?? { kind: 'none' }
  );
}

async function readOne(server: Redis): Promise<Persistence> {
  let aof: boolean;
  let rdb: boolean;
  try {
    const [appendonly, save] = await Promise.all([
      server.config('GET', 'appendonly'),
      server.config('GET', 'save'),
    ]);
    aof = appendonly[1] === 'yes';
    rdb = (save[1] ?? '').trim() !== '';
  } catch (err) {
    return { kind: 'unknown', why: (err as Error).message };
  }
  if (aof && rdb) return { kind: 'aof+rdb' };
  if (aof) return { kind: 'aof' };
  if (rdb) return { kind: 'rdb' };
  return { kind: 'none' };
}

export class NoPersistenceError extends Error {
  constructor() {
    super(
      'Redis has neither AOF nor RDB persistence: a restart loses every queued job and idempotency ' +
        'record. Run it with appendonly yes (CONFIG SET appendonly yes), or set redis.persistence: warn',
    );
    this.name = 'NoPersistenceError';
  }
}
