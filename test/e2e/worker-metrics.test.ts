import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { leads } from '../faults/harness.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startSystem } from '../system/index.js';
import { demoRequest } from '../system/webhooks.js';

const N = 5;

/** One sample's value in Prometheus' text format, 0 when absent. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Server and worker as separate processes (docker-compose's layout): the work is counted where it is done. */
describe('worker metrics', () => {
  it('the worker process serves its own /metrics on METRICS_PORT: speed to lead, jobs, CRM calls', async () => {
    const contacts = leads(N, 9100);
    const system = await startSystem({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('worker-metrics'),
      mode: 'processes',
      seed: (s) => s.seedContacts(contacts),
    });
    try {
      const worker = system.workers[0]!;
      const port = Number(/"metricsPort":(\d+)/.exec(worker.output)?.[1]);
      expect(port).toBeGreaterThan(0);
      const scrape = async (base: string) => (await fetch(`${base}/metrics`)).text();
      const workerUrl = `http://127.0.0.1:${port}`;

      for (const c of contacts) await system.post.deliverHubSpot([demoRequest(c.id)]);
      const text = await waitFor(
        async () => {
          const body = await scrape(workerUrl);
          return sample(body, 'leadflow_speed_to_lead_seconds_count') >= N ? body : undefined;
        },
        { what: 'speed to lead of every handoff on the worker', timeoutMs: 60_000 },
      );
      expect(sample(text, 'leadflow_jobs_total', '{queue="writeback",outcome="completed"}')).toBeGreaterThan(
        0,
      );
      expect(sample(text, 'leadflow_jobs_total', '{queue="score",outcome="completed"}')).toBeGreaterThan(0);
      expect(text).toMatch(/^leadflow_crm_requests_total\{crm="hubspot",.*outcome="ok"\} [1-9]/m);
      expect(sample(text, 'leadflow_dead_letters', '{queue="writeback"}')).toBe(0);
      expect((await fetch(`${workerUrl}/healthz`)).status).toBe(200);
      // The HTTP process counts what it did: webhooks, not the worker's handoffs.
      const server = await scrape(system.baseUrl);
      expect(sample(server, 'leadflow_webhook_requests_total', '{source="hubspot",status="200"}')).toBe(N);
      expect(sample(server, 'leadflow_speed_to_lead_seconds_count')).toBe(0);
    } finally {
      await system.close('SIGTERM');
    }
  }, 120_000);

  it("docker-compose's worker serves them on a port of its own, with its health check there", () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
      services: { worker: { environment: Record<string, unknown>; healthcheck: { test: string[] } } };
    };
    const { environment, healthcheck } = compose.services.worker;
    expect(environment.METRICS_PORT).toBe('9464');
    expect(healthcheck.test.join(' ')).toContain('127.0.0.1:9464/healthz');
  });
});
