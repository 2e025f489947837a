import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface OwnRedis {
  url: string;
  port: number;
  /** Its data directory (the AOF lives here). */
  dir: string;
  /** Stops the server; its data directory is removed unless `keepData` or it was given one. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Answers PING within the timeout? */
export async function redisAnswers(url: string, timeoutMs = 1_000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Starts a private redis-server on a free loopback port (optionally with AOF, for fault tests; `args`
 * are further options, e.g. cluster mode).
 */
export async function startRedisServer(
  opts: { appendonly?: boolean; port?: number; dir?: string; args?: string[] } = {},
): Promise<OwnRedis> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'leadflow-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      opts.appendonly ? 'yes' : 'no',
      '--maxmemory-policy',
      'noeviction',
      ...(opts.args ?? []),
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 5_000;
  while (!(await redisAnswers(url, 200))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    port,
    dir,
    async stop(stopOpts = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (!opts.dir && !stopOpts.keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The Redis the demo, the benchmark and the tests use: $REDIS_URL or 127.0.0.1:6379 when one
 * answers, else a private redis-server on a free port. Without either, the error says what to install.
 */
export async function findOrStartRedis(): Promise<{ url: string; own?: OwnRedis }> {
  const wanted = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(wanted)) return { url: wanted };
  if (!hasRedisServer()) {
    throw new Error(
      `No Redis answers at ${wanted} and redis-server is not installed.\n` +
        'Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.',
    );
  }
  const own = await startRedisServer();
  return { url: own.url, own };
}
