import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Env } from '../../src/config/env.js';

/* Compose itself is not run here: the file is read as compose reads it (YAML, anchors resolved). */
const Service = z.object({
  environment: z.record(z.string(), z.string()),
  volumes: z.array(z.string()),
});
const Compose = z.object({ services: z.object({ server: Service, worker: Service }) });
const compose = Compose.parse(parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }));

describe('docker-compose.yml', () => {
  for (const name of ['server', 'worker'] as const) {
    const service = compose.services[name];

    it(`${name}: passes every variable leadflow reads (Salesforce and events among them) from the host`, () => {
      const passed = Object.keys(service.environment);
      // Every variable the environment schema knows, but where the server listens (the image's); the
      // metrics port is the worker's own (the server serves /metrics on its PORT).
      const notPassed = name === 'server' ? ['PORT', 'HOST', 'METRICS_PORT'] : ['PORT', 'HOST'];
      const expected = Object.keys(Env.shape).filter((v) => !notPassed.includes(v));
      expect(passed.sort()).toEqual(expected.sort());
      for (const v of [
        'SALESFORCE_INSTANCE_URL',
        'SALESFORCE_ACCESS_TOKEN',
        'SALESFORCE_OUTBOUND_TOKEN',
        'EVENTS_SIGNING_SECRET',
      ])
        expect(service.environment[v]).toBe(`\${${v}:-}`);
      expect(service.environment.REDIS_URL).toBe('redis://redis:6379');
    });

    it(`${name}: mounts the user's config read-only where CONFIG_PATH points`, () => {
      expect(service.volumes).toContain('./config:/app/config:ro');
      expect(service.environment.CONFIG_PATH).toBe('${CONFIG_PATH:-/app/config/default.yaml}');
    });
  }
});
