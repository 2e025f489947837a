import { z } from 'zod';
import { ConfigError, formatIssues } from './errors.js';

const Port = z.coerce.number().int().min(0).max(65535);
const OutboundToken = z
  .string()
  .regex(
    /^[A-Za-z0-9_-]{32,128}$/,
    '32–128 URL-safe characters (A–Z a–z 0–9 _ -), e.g. openssl rand -hex 32',
  );

/**
 * One cluster seed: `host:port`, or a URL (`redis://` or `rediss://` for TLS) that may carry the
 * ACL user and password, as managed clusters need.
 */
const ClusterNode = z
  .string()
  .regex(
    /^(rediss?:\/\/([^@/\s]*@)?)?[^\s:/@]+:\d{1,5}$/,
    'host:port or redis[s]://[user:password@]host:port, e.g. 10.0.0.5:6379',
  )
  .transform((node) => {
    const url = new URL(node.includes('://') ? node : `redis://${node}`);
    const [username, password] = [url.username, url.password].map(decodeURIComponent);
    return {
      host: url.hostname,
      port: Number(url.port),
      tls: url.protocol === 'rediss:',
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
    };
  })
  .pipe(
    z.object({
      host: z.string(),
      port: z.number().int().min(1).max(65535),
      tls: z.boolean(),
      username: z.string().optional(),
      password: z.string().optional(),
    }),
  );

export const Env = z.object({
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .default('redis://127.0.0.1:6379'),
  /**
   * A Redis Cluster's seed nodes, `host:port,host:port` (or `rediss://user:password@host:port,…`);
   * when set, used instead of REDIS_URL. The client learns the rest of the cluster from them.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .transform((list) => list.split(',').map((node) => node.trim()))
    .pipe(z.array(ClusterNode).min(1))
    // One client connects to every node alike: a seed with other credentials or TLS is a typo.
    .refine(
      (nodes) =>
        nodes.every(
          (n) =>
            n.tls === nodes[0]!.tls && n.username === nodes[0]!.username && n.password === nodes[0]!.password,
        ),
      {
        message: 'every seed must use the same scheme (redis:// or rediss://) and credentials',
        // Only once every seed parsed: a malformed one is reported as itself.
        when: (payload) => payload.issues.length === 0,
      },
    )
    .optional(),
  /** A PEM CA certificate file for rediss:// (REDIS_URL or cluster seeds) signed by a private CA. */
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  CONFIG_PATH: z.string().default('config/default.yaml'),
  PORT: Port.default(3000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  HUBSPOT_ACCESS_TOKEN: z.string().min(1).optional(),
  HUBSPOT_CLIENT_SECRET: z.string().min(1).optional(),
  /** OAuth apps, instead of HUBSPOT_ACCESS_TOKEN: the app's client id and an install's refresh token. */
  HUBSPOT_CLIENT_ID: z.string().min(1).optional(),
  HUBSPOT_REFRESH_TOKEN: z.string().min(1).optional(),
  HUBSPOT_BASE_URL: z.url().default('https://api.hubapi.com'),
  /** Salesforce: the org's instance (`https://acme.my.salesforce.com`); unset means no Salesforce. */
  SALESFORCE_INSTANCE_URL: z.url().optional(),
  /** Where OAuth tokens are minted (a My Domain or test.salesforce.com for sandboxes). */
  SALESFORCE_LOGIN_URL: z.url().default('https://login.salesforce.com'),
  /** The 18-character org id Outbound Messages must carry. */
  SALESFORCE_ORG_ID: z
    .string()
    .regex(/^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$/, 'an org id starting with 00D')
    .optional(),
  /**
   * The secret last segment of the Outbound Message endpoint URL
   * (`/webhooks/salesforce/<token>`); without it the endpoint answers 503. PREVIOUS is accepted too,
   * while Salesforce's Outbound Messages are moved to a new token.
   */
  SALESFORCE_OUTBOUND_TOKEN: OutboundToken.optional(),
  SALESFORCE_OUTBOUND_TOKEN_PREVIOUS: OutboundToken.optional(),
  /** Auth, one of: an access token; a refresh token with the connected app; a JWT bearer key. */
  SALESFORCE_ACCESS_TOKEN: z.string().min(1).optional(),
  SALESFORCE_CLIENT_ID: z.string().min(1).optional(),
  SALESFORCE_CLIENT_SECRET: z.string().min(1).optional(),
  SALESFORCE_REFRESH_TOKEN: z.string().min(1).optional(),
  SALESFORCE_USERNAME: z.string().min(1).optional(),
  /** PEM private key of the connected app's certificate, for the JWT bearer flow. */
  SALESFORCE_JWT_PRIVATE_KEY: z.string().min(1).optional(),
  /**
   * The JWT bearer assertion's `aud`: https://login.salesforce.com, https://test.salesforce.com or an
   * Experience Cloud site URL (never My Domain). Unset: derived from SALESFORCE_LOGIN_URL.
   */
  SALESFORCE_JWT_AUDIENCE: z.url({ protocol: /^https$/ }).optional(),
  /** Shared secret for POST /webhooks/events (generic signed JSON). */
  EVENTS_SIGNING_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Rep alerts by Slack (`alerts.slack`): a bot token with chat:write, im:write, users:read.email. */
  SLACK_BOT_TOKEN: z
    .string()
    .regex(/^xox[a-z]-/, 'a Slack bot token (xoxb-…)')
    .optional(),
  /** Rep alerts by email (`alerts.email`): smtp://user:pass@host:587 or smtps://…:465. */
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://')
    .optional(),
  /**
   * Where a worker process without the HTTP server serves /metrics and /healthz (0: a free port,
   * logged). With the server in the process, its PORT serves them instead.
   */
  METRICS_PORT: Port.default(9464),
  /** Jobs in flight per queue in this process, the same for every queue: replaces `pipeline.concurrency`. */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).optional(),
});
export type Env = z.infer<typeof Env>;

/** Parses the environment once; throws ConfigError listing every bad variable. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Treat empty strings as unset, as shells and compose files often export VAR= .
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = Env.safeParse(cleaned);
  if (!result.success) throw new ConfigError('environment', formatIssues(result.error));
  return result.data;
}
