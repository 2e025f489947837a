import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** The Redis the global setup found or started. */
export const TEST_REDIS_URL = inject('redisUrl');

/** A hash-tagged prefix no other test uses. */
export function uniquePrefix(label: string): string {
  return `{lf-test-${label}-${randomBytes(4).toString('hex')}}`;
}

export function testRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
}

export { deleteByPrefix as cleanPrefix } from '../../src/store/redis.js';
