import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from '../helpers/wait.js';
import {
  clientOptions,
  clientUrl,
  freePort,
  startRedisServer,
  type OwnRedis,
  type RedisSecurity,
} from './redis-server.js';

export interface OwnCluster {
  /** `host:port,…` as REDIS_CLUSTER_NODES takes it. */
  nodesEnv: string;
  ports: number[];
  /** The port of the master that owns `key`'s slot. */
  ownerOf(key: string): Promise<number>;
  /**
   * SIGTERM to the node on `port`, then the same node again: same port, same nodes.conf (its id and
   * slots), no data (no persistence). No failover happens: there are no replicas.
   */
  restart(port: number): Promise<void>;
  stop(): Promise<void>;
}

/** redis-cli ships with redis-server; `--cluster create` needs Redis ≥ 5. */
export function hasRedisCluster(): boolean {
  return spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * A real 3-master Redis Cluster on free loopback ports, without replicas or persistence: each node's
 * nodes.conf lives in one temporary directory, so a restarted node rejoins with its slots. With
 * `security`, every node wants the password (and with TLS takes only TLS, the cluster bus too).
 */
export async function startRedisCluster(security?: RedisSecurity): Promise<OwnCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'leadflow-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const start = (port: number) =>
    startRedisServer({
      port,
      dir,
      args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`],
      ...(security ? { security } : {}),
    });
  const cliAuth = security
    ? [
        '-a',
        security.password,
        '--no-auth-warning',
        ...(security.tls ? ['--tls', '--cacert', security.tls.ca] : []),
      ]
    : [];
  const ask = <T>(port: number, fn: (node: Redis) => Promise<T>) => askNode(port, security, fn);
  const clusterOk = (port: number) =>
    waitFor(
      () =>
        ask(port, async (node) => (await node.cluster('INFO')).includes('cluster_state:ok')).catch(
          () => false,
        ),
      { what: `cluster_state:ok on node ${port}`, timeoutMs: 30_000, intervalMs: 100 },
    );
  const nodes = new Map<number, OwnRedis>();
  try {
    for (const port of ports) nodes.set(port, await start(port));
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
        ...cliAuth,
      ],
      { encoding: 'utf8' },
    );
    if (created.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const port of ports) await clusterOk(port);
  } catch (err) {
    for (const node of nodes.values()) await node.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    nodesEnv: ports.map((p) => (security ? clientUrl(p, security) : `127.0.0.1:${p}`)).join(','),
    ports,
    async ownerOf(key) {
      return ask(ports[0]!, async (node) => {
        const slot = await node.cluster('KEYSLOT', key);
        const ranges = await node.cluster('SLOTS');
        const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
        if (!master) throw new Error(`no node owns slot ${slot}`);
        return master[1];
      });
    },
    async restart(port) {
      const node = nodes.get(port);
      if (!node) throw new Error(`no cluster node on port ${port}`);
      await node.stop({ keepData: true });
      nodes.set(port, await start(port));
      for (const p of ports) await clusterOk(p);
    },
    async stop() {
      for (const node of nodes.values()) await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function askNode<T>(
  port: number,
  security: RedisSecurity | undefined,
  fn: (node: Redis) => Promise<T>,
): Promise<T> {
  const node = new Redis({
    ...clientOptions(security),
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  node.on('error', () => undefined);
  try {
    await node.connect();
    return await fn(node);
  } finally {
    node.disconnect();
  }
}
