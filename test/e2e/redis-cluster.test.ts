import { describe, expect, it } from 'vitest';
import { keys } from '../../src/store/keys.js';
import { waitFor } from '../helpers/wait.js';
import { expectOneNoteAndTaskEach, faultConfig, leads, notesPerLead } from '../faults/harness.js';
import { hasRedisCluster, startRedisCluster } from '../sandbox/redis-cluster.js';
import { hasRedisServer } from '../sandbox/redis-server.js';
import { startSystem } from '../system/index.js';
import { demoRequest } from '../system/webhooks.js';

const N = 10;
const PREFIX = '{leadflow}';

/**
 * A real 3-master Redis Cluster (no replicas) started here. REDIS_URL names a node that does not own
 * the prefix's slot, so a client that ignores REDIS_CLUSTER_NODES meets MOVED on its first command.
 */
describe.skipIf(!hasRedisServer() || !hasRedisCluster())('end to end on a Redis Cluster', () => {
  it('hands off through the cluster, and again after the node owning the slot restarts empty', async () => {
    const cluster = await startRedisCluster();
    try {
      const owner = await cluster.ownerOf(PREFIX);
      const other = cluster.ports.find((p) => p !== owner)!;
      const sys = await startSystem({
        redisUrl: `redis://127.0.0.1:${other}`,
        redisClusterNodes: cluster.nodesEnv,
        prefix: PREFIX,
        sandbox: { latencyMs: 5 },
        seed: (s) => s.seedContacts(leads(2 * N)),
        // No periodic epoch check in this test: only the reconnect to the restarted node can notice the loss.
        adjust: (config) => {
          const c = faultConfig()(config);
          return { ...c, redis: { ...c.redis, dataLoss: { ...c.redis.dataLoss, checkEveryMs: 3_600_000 } } };
        },
      });
      try {
        const { sandbox } = sys;
        const before = leads(N);
        for (const lead of before) await sys.post.deliverHubSpot([demoRequest(lead.id)]);
        // Notes and tasks both: a write still in flight would be lost with the node's data.
        await waitFor(() => notesPerLead(sandbox).size === N && notesPerLead(sandbox, 'tasks').size === N, {
          what: 'the first handoffs (notes and tasks)',
          timeoutMs: 60_000,
        });
        // The state is in the cluster, on the slot's owner.
        expect(await sys.redis.exists(keys(PREFIX).audit)).toBe(1);

        // Same port and nodes.conf, no persistence: the node comes back owning the slot, empty.
        await cluster.restart(owner);
        expect(await cluster.ownerOf(PREFIX)).toBe(owner);
        // The data-loss guard notices: the epoch it saw is gone.
        await waitFor(async () => (await sys.redis.exists(keys(PREFIX).dataLoss)) === 1, {
          what: 'the data loss recorded',
          timeoutMs: 30_000,
        });

        // Deliveries the server refuses (503) while it reconnects are retried, as HubSpot does.
        const after = leads(N, N + 1);
        for (const lead of after) await sys.post.deliverHubSpot([demoRequest(lead.id)], 60_000);
        await expectOneNoteAndTaskEach(
          sandbox,
          [...before, ...after].map((l) => l.id),
          60_000,
        );
      } finally {
        await sys.close();
      }
    } finally {
      await cluster.stop();
    }
  }, 180_000);
});
