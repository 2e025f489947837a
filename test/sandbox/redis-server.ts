import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

export interface OwnRedis {
  url: string;
  port: number;
  /** Its data directory (the AOF lives here). */
  dir: string;
  /** Stops the server; its data directory is removed unless `keepData` or it was given one. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/** A password and TLS, as managed Redis services require them. */
export interface RedisSecurity {
  password: string;
  /** PEM files: the server's certificate and key, and the CA that signed the certificate. */
  tls?: { cert: string; key: string; ca: string };
}

/** How a client reaches a server started with `security`: its URL, and the CA to trust for TLS. */
export function clientUrl(port: number, security?: RedisSecurity): string {
  if (!security) return `redis://127.0.0.1:${port}`;
  return `${security.tls ? 'rediss' : 'redis'}://:${encodeURIComponent(security.password)}@127.0.0.1:${port}`;
}

/** ioredis options for a server started with `security` (host and port given apart). */
export function clientOptions(security?: RedisSecurity): RedisOptions {
  if (!security) return {};
  return {
    password: security.password,
    ...(security.tls ? { tls: { ca: readFileSync(security.tls.ca, 'utf8') } } : {}),
  };
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
export async function redisAnswers(
  url: string,
  timeoutMs = 1_000,
  security?: RedisSecurity,
): Promise<boolean> {
  const client = new Redis(url, {
    ...clientOptions(security),
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
 * are further options, e.g. cluster mode). With `security.tls` the port takes TLS only.
 */
export async function startRedisServer(
  opts: { appendonly?: boolean; port?: number; dir?: string; args?: string[]; security?: RedisSecurity } = {},
): Promise<OwnRedis> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'leadflow-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      ...portArgs(port, opts.security),
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
  const url = clientUrl(port, opts.security);
  const deadline = Date.now() + 5_000;
  while (!(await redisAnswers(url, 200, opts.security))) {
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

function portArgs(port: number, security?: RedisSecurity): string[] {
  if (!security) return ['--port', String(port)];
  const auth = ['--requirepass', security.password, '--masterauth', security.password];
  const { tls } = security;
  if (!tls) return ['--port', String(port), ...auth];
  // TLS only, for clients and for the cluster bus alike.
  return [
    ...['--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-replication', 'yes'],
    ...['--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca],
    ...['--tls-auth-clients', 'no', ...auth],
  ];
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
