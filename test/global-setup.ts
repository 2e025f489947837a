import type { TestProject } from 'vitest/node';
import { hasRedisServer, redisAnswers, startRedisServer, type OwnRedis } from './sandbox/redis-server.js';

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
  const wanted = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(wanted)) {
    project.provide('redisUrl', wanted);
    return;
  }
  if (!hasRedisServer()) {
    throw new Error(
      `No Redis answers at ${wanted} and redis-server is not installed. Install it (apt-get install redis-server, brew install redis) or set REDIS_URL.`,
    );
  }
  own = await startRedisServer();
  project.provide('redisUrl', own.url);
}

export async function teardown(): Promise<void> {
  await own?.stop();
}
