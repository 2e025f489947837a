import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL, cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { freePort } from '../sandbox/redis-server.js';
import { demoRequest, postHubSpot } from '../system/webhooks.js';

/** The real CLI in its own process: it serves, works, and on SIGTERM finishes and exits 0. */
describe('leadflow start --with-worker', () => {
  const prefix = uniquePrefix('shutdown');
  let sandbox: Sandbox;
  let redis: Redis;

  beforeAll(async () => {
    redis = testRedis();
    sandbox = await startSandbox({ latencyMs: 20 });
    sandbox.seedContacts([
      { id: '11', properties: { firstname: 'Ada', jobtitle: 'CTO', lifecyclestage: 'lead' } },
    ]);
  });
  afterAll(async () => {
    await sandbox.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('hands off, then stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    // The shipped config under this test's own key prefix.
    const configPath = join(mkdtempSync(join(tmpdir(), 'leadflow-shutdown-')), 'config.yaml');
    const shipped = readFileSync('config/default.yaml', 'utf8');
    expect(shipped).toContain("prefix: '{leadflow}'");
    writeFileSync(configPath, shipped.replace("prefix: '{leadflow}'", `prefix: '${prefix}'`));
    const child = spawnCli(['start', '--with-worker', '--config', configPath], {
      env: {
        PATH: process.env.PATH,
        REDIS_URL: TEST_REDIS_URL,
        PORT: String(port),
        HOST: '127.0.0.1',
        HUBSPOT_ACCESS_TOKEN: 'pat-shutdown',
        HUBSPOT_CLIENT_SECRET: 'shutdown-secret',
        HUBSPOT_BASE_URL: sandbox.url,
        LOG_LEVEL: 'info',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));

    await waitFor(() => stdout.includes('workers started'), {
      what: 'the process to start',
      timeoutMs: 15_000,
    });
    const url = `http://127.0.0.1:${port}/webhooks/hubspot`;
    expect(await postHubSpot(url, [demoRequest(11)], 'shutdown-secret')).toBe(200);
    await waitFor(() => sandbox.hubspot.notes.length === 1, { what: 'the handoff note' });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('received SIGTERM, finishing in-flight work');
    expect(stdout).toContain('"msg":"stopped"');
  });
});
