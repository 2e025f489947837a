import type { TestProject } from 'vitest/node';
import { findOrStartRedis, type OwnRedis } from './sandbox/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let own: OwnRedis | undefined;

/**
 * Tests run against a real Redis: $REDIS_URL or 127.0.0.1:6379 when one answers, otherwise a private
 * redis-server started here on a free port. Without either, the run stops with what to install.
 */
export async function setup(project: TestProject): Promise<void> {
  const redis = await findOrStartRedis();
  own = redis.own;
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await own?.stop();
}
