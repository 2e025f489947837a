import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { parseEnv } from '../../src/config/env.js';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  const files = [
    ...readdirSync('config').map((f) => `config/${f}`),
    ...readdirSync('config/examples').map((f) => `config/examples/${f}`),
  ].filter((f) => f.endsWith('.yaml'));
  it.each(files)('%s is valid', (file) => {
    expect(() => loadConfig(file)).not.toThrow();
  });

  it('reads the cross-CRM example as HubSpot marketing handing off into Salesforce', () => {
    const c = loadConfig('config/examples/hubspot-to-salesforce.yaml');
    expect(c.crossCrm).toEqual({ handoffTo: 'salesforce', matchBy: 'email', createMissing: true });
    expect(c.salesforce.fields.lead.email).toBe('Email');
    expect(c.salesforce.fields.stages.disqualified).toBe('Closed - Not Converted');
    expect(c.routing.reps.map((r) => r.id)).toEqual(['005000000000001AAA', '005000000000002AAA']);
  });

  it('rejects a Salesforce field name that is not an API name, and an unknown cross-CRM target', () => {
    expect(
      problems(() =>
        parseConfig(
          'thresholds: { mql: 40, sql: 70 }\nscoring: {}\nsalesforce: { fields: { score: "Lead Score" } }\ncrossCrm: { handoffTo: pipedrive }',
        ),
      ),
    ).toEqual([
      'salesforce.fields.score: not a valid Salesforce field API name',
      'crossCrm.handoffTo: Invalid option: expected one of "hubspot"|"salesforce"',
    ]);
  });

  it('fills defaults from a minimal file', () => {
    const c = parseConfig('thresholds: { mql: 40, sql: 70 }\nscoring: {}');
    expect(c.redis.prefix).toBe('{leadflow}');
    expect(c.handRaise).toEqual(['demo_request']);
    expect(c.hubspot.fields.score).toBe('leadflow_score');
    expect(c.pipeline.scoreDebounceMs).toBe(250);
  });

  it('refuses an unmarket that writes hs_marketable_status, which the HubSpot API cannot set, saying what to use', () => {
    const base = 'thresholds: { mql: 40, sql: 70 }\nscoring: {}\n';
    expect(
      problems(() =>
        parseConfig(
          `${base}hubspot: { fields: { unmarketable: { property: hs_marketable_status, value: 'false' } } }`,
        ),
      ),
    ).toEqual([
      "hubspot.fields.unmarketable: replaced by hubspot.fields.unmarket: HubSpot's API cannot set hs_marketable_status (marketing contact status, read-only). Use unmarket: { unsubscribeAllEmail: true, property?: { name, value } } (see README)",
    ]);
    expect(
      problems(() =>
        parseConfig(
          `${base}hubspot: { fields: { unmarket: { property: { name: hs_marketable_status, value: 'false' } } } }`,
        ),
      ),
    ).toEqual([
      "hubspot.fields.unmarket.property.name: HubSpot's API cannot set hs_marketable_status; name a property a HubSpot workflow watches instead",
    ]);
    expect(
      problems(() => parseConfig(`${base}hubspot: { fields: { unmarket: { unsubscribeAllEmail: false } } }`)),
    ).toEqual([
      'hubspot.fields.unmarket: set unsubscribeAllEmail, a property, or both: otherwise unmarket does nothing',
    ]);
    expect(parseConfig(base).hubspot.fields.unmarket).toEqual({ unsubscribeAllEmail: true });
  });

  it('lists every problem with its path in one error', () => {
    const yaml = `
thresholds: { mql: 90, sql: 10 }
scoring:
  fit:
    - { id: a, field: jobTitle, match: { regex: '(' }, points: 5 }
    - { id: b, field: jobTitle, match: { min: 1, in: [2] }, points: 5 }
    - { id: c, field: jobTitle, match: {}, points: 500 }
  engagement:
    - { id: d, event: page_view, points: 1 }
    - { id: e, event: page_view, points: 1 }
    - { id: f, event: page_view, points: 1 }
    - { id: g, event: page_view, points: two, decay: { halfLifeDays: 1, windowDays: 2 } }
redis: { prefix: leadflow }
surprise: true
`;
    expect(problems(() => parseConfig(yaml))).toEqual([
      'redis.prefix: use a hash tag like "{leadflow}"',
      'scoring.fit[0].match.regex: not a valid regular expression',
      'scoring.fit[1].match: use only one of in, min/max',
      'scoring.fit[2].match: needs one of equals, in, contains, regex, min/max',
      'scoring.fit[2].points: Too big: expected number to be <=100',
      'scoring.engagement[3].points: Invalid input: expected number, received string',
      'scoring.engagement[3].decay: use exactly one of halfLifeDays or windowDays',
      '(root): Unrecognized key: "surprise"',
    ]);
  });

  it('checks thresholds and duplicate rule ids once the shape is right', () => {
    const yaml = `
thresholds: { mql: 90, sql: 10 }
scoring:
  fit: [{ id: a, field: x, match: { equals: 1 }, points: 1 }]
  engagement: [{ id: a, event: y, points: 1 }]
`;
    expect(problems(() => parseConfig(yaml))).toEqual([
      'scoring.engagement[0].id: duplicate rule id "a"',
      'thresholds.sql: must be ≥ thresholds.mql',
    ]);
  });

  it('checks the webhook endpoint and HTTP server settings', () => {
    const minimal = `
thresholds: { mql: 50, sql: 80 }
scoring: { fit: [], engagement: [] }
`;
    expect(parseConfig(minimal)).toMatchObject({
      http: { trustProxy: 0, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 },
      webhooks: { salesforce: { maxBodyBytes: 384 * 1024, maxConcurrent: 2, allowIps: [] } },
    });
    const fingerprint = 'AB:'.repeat(31) + 'CD';
    expect(
      parseConfig(`${minimal}
http: { trustProxy: 1 }
webhooks:
  salesforce:
    allowIps: [13.108.0.0/14, '2a01:111:f400::/48']
    clientCertificate: { header: X-SSL-Client-SHA256, fingerprints: ['${fingerprint}'] }
`).webhooks.salesforce,
    ).toMatchObject({
      allowIps: ['13.108.0.0/14', '2a01:111:f400::/48'],
      clientCertificate: { header: 'x-ssl-client-sha256', fingerprints: ['ab'.repeat(31) + 'cd'] },
    });
    expect(
      problems(() =>
        parseConfig(`${minimal}
http: { headersTimeoutMs: 60000, requestTimeoutMs: 30000 }
webhooks:
  maxBodyBytes: 65536
  salesforce:
    maxBodyBytes: 131072
    allowIps: [13.108.0.0, 300.1.1.1/8]
    clientCertificate: { header: X-SSL-Client-SHA256, fingerprints: [abc] }
`),
      ),
    ).toEqual([
      'http.headersTimeoutMs: must not exceed requestTimeoutMs',
      'webhooks.salesforce.allowIps[0]: a CIDR such as 13.108.0.0/14 or 2a01:111:f400::/48',
      'webhooks.salesforce.allowIps[1]: a CIDR such as 13.108.0.0/14 or 2a01:111:f400::/48',
      'webhooks.salesforce.clientCertificate.fingerprints[0]: a SHA-256 (or SHA-1) fingerprint in hex',
    ]);
    expect(
      problems(() =>
        parseConfig(`${minimal}
webhooks:
  maxBodyBytes: 65536
  salesforce: { maxBodyBytes: 131072, clientCertificate: { header: X-SSL-Client-SHA256, fingerprints: ['${fingerprint}'] } }
`),
      ),
    ).toEqual([
      'webhooks.salesforce.clientCertificate.header: a header is only believable from a proxy: set http.trustProxy',
      'webhooks.salesforce.maxBodyBytes: must not exceed webhooks.maxBodyBytes',
    ]);
  });

  it('reports YAML syntax errors and unreadable files', () => {
    expect(problems(() => parseConfig('thresholds: [1, 2'))[0]).toMatch(/^YAML: /);
    expect(problems(() => loadConfig('config/nope.yaml'))[0]).toMatch(/^cannot read file/);
  });
});

describe('env', () => {
  it('applies defaults and treats empty strings as unset', () => {
    const env = parseEnv({ PORT: '', REDIS_URL: 'redis://localhost:6380' });
    expect(env.PORT).toBe(3000);
    expect(env.REDIS_URL).toBe('redis://localhost:6380');
  });

  it('takes REDIS_CLUSTER_NODES as host:port or URL seeds, and names a bad one', () => {
    expect(
      parseEnv({ REDIS_CLUSTER_NODES: '10.0.0.5:7000, redis-2.internal:7001' }).REDIS_CLUSTER_NODES,
    ).toEqual([
      { host: '10.0.0.5', port: 7000, tls: false },
      { host: 'redis-2.internal', port: 7001, tls: false },
    ]);
    // A password with URL-escaped characters, as managed services generate them.
    expect(
      parseEnv({
        REDIS_CLUSTER_NODES: 'rediss://default:p%40ss@10.0.0.5:6380,rediss://default:p%40ss@10.0.0.6:6380',
      }).REDIS_CLUSTER_NODES,
    ).toEqual([
      { host: '10.0.0.5', port: 6380, tls: true, username: 'default', password: 'p@ss' },
      { host: '10.0.0.6', port: 6380, tls: true, username: 'default', password: 'p@ss' },
    ]);
    expect(parseEnv({}).REDIS_CLUSTER_NODES).toBeUndefined();
    expect(problems(() => parseEnv({ REDIS_CLUSTER_NODES: '10.0.0.5:7000,10.0.0.6' }))).toEqual([
      'REDIS_CLUSTER_NODES[1]: host:port or redis[s]://[user:password@]host:port, e.g. 10.0.0.5:6379',
    ]);
    expect(problems(() => parseEnv({ REDIS_CLUSTER_NODES: '10.0.0.5:7000,rediss://10.0.0.6:7000' }))).toEqual(
      ['REDIS_CLUSTER_NODES: every seed must use the same scheme (redis:// or rediss://) and credentials'],
    );
  });

  it('takes Outbound Message URL tokens of 32+ URL-safe characters only', () => {
    const token = 'a'.repeat(31);
    expect(
      problems(() =>
        parseEnv({ SALESFORCE_OUTBOUND_TOKEN: token, SALESFORCE_OUTBOUND_TOKEN_PREVIOUS: `${token}/x` }),
      ),
    ).toEqual([
      'SALESFORCE_OUTBOUND_TOKEN: 32–128 URL-safe characters (A–Z a–z 0–9 _ -), e.g. openssl rand -hex 32',
      'SALESFORCE_OUTBOUND_TOKEN_PREVIOUS: 32–128 URL-safe characters (A–Z a–z 0–9 _ -), e.g. openssl rand -hex 32',
    ]);
    expect(parseEnv({ SALESFORCE_OUTBOUND_TOKEN: `${token}b` }).SALESFORCE_OUTBOUND_TOKEN).toBe(`${token}b`);
  });

  it('lists every bad variable', () => {
    expect(
      problems(() =>
        parseEnv({ PORT: 'eighty', REDIS_URL: 'localhost', HUBSPOT_BASE_URL: 'nope', ADMIN_TOKEN: 'short' }),
      ),
    ).toEqual([
      'REDIS_URL: must start with redis:// or rediss://',
      'PORT: Invalid input: expected number, received NaN',
      'ADMIN_TOKEN: must be at least 16 characters',
      'HUBSPOT_BASE_URL: Invalid URL',
    ]);
  });

  it('checks routing, SLA and note settings with their paths', () => {
    const yaml = `
thresholds: { mql: 50, sql: 80 }
scoring: {}
routing:
  reps:
    - { id: '1', name: Ana, workingHours: { timeZone: Mars/Olympus } }
    - { id: '1', name: Ana again }
  rules:
    - { id: rr, strategy: round_robin }
    - { id: west, strategy: round_robin, reps: ['1', '7'] }
sla:
  workingHours: { start: '18:00', end: '09:00' }
handoffNote:
  timelineUrl: https://crm.example/contacts/42
`;
    expect(problems(() => parseConfig(yaml))).toEqual([
      'handoffNote.timelineUrl: an https URL with {id} where the record id goes',
      'routing.reps[0].workingHours.timeZone: not an IANA time zone (e.g. "Europe/Berlin")',
      'sla.workingHours.end: start must be before end',
      'routing.reps[1].id: duplicate rep "1"',
      'routing.rules[0].reps: round_robin needs reps',
      'routing.rules[1].reps[1]: "7" is not in routing.reps',
    ]);
  });
});
