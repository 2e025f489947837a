import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { verifyV1, verifyV3 } from '../../connectors/hubspot/signature.js';
import { HubSpotWebhookBatch } from '../../connectors/hubspot/webhook.js';
import { createAdminRouter } from './admin.js';
import { salesforceWebhook } from './salesforce-webhook.js';
import { GenericEventBatch, verifyGeneric } from './generic-webhook.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { enqueueIngest, type Queues } from '../queue/queues.js';
import { assertNoEviction } from '../store/redis.js';

export interface AppDeps {
  config: Config;
  hubspotClientSecret: string | undefined;
  /** The org Salesforce Outbound Messages must come from (SALESFORCE_ORG_ID); unset answers 503. */
  salesforceOrgId?: string | undefined;
  eventsSigningSecret?: string | undefined;
  queues: Queues;
  /** The connection the queues use; checked before enqueueing so a down Redis answers 503 at once. */
  redis: Redis;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** Enables /admin (dashboard and admin API). */
  adminToken?: string | undefined;
  /** Proves the CRM token works (cached by the caller); a failure makes /readyz answer 503. */
  checkCrm?: () => Promise<void>;
  /** Longest wait for Redis to accept a job before answering 503. */
  enqueueTimeoutMs?: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createApp(deps: AppDeps): express.Express {
  const { config, metrics } = deps;
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');

  // One id per request, echoed back and carried into the ingest job, so a delivery can be followed.
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set('x-request-id', id);
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      await withTimeout(deps.redis.ping(), 1_000, 'Redis did not answer');
      await assertNoEviction(deps.redis);
      if (deps.checkCrm) await withTimeout(deps.checkCrm(), 5_000, 'CRM did not answer');
      res.json({ status: 'ready' });
    } catch (err) {
      res.status(503).json({ status: 'unavailable', reason: (err as Error).message });
    }
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const rawBody = express.raw({ type: () => true, limit: config.webhooks.maxBodyBytes });

  app.post('/webhooks/hubspot', rawBody, async (req: Request, res: Response) => {
    const secret = deps.hubspotClientSecret;
    if (!secret) throw new HttpError(503, 'HubSpot webhooks are not configured: set HUBSPOT_CLIENT_SECRET');
    const body = bodyOf(req);
    const hub = config.webhooks.hubspot;
    const signed = {
      method: req.method,
      url: calledUrl(req, hub.publicUrl),
      rawBody: body,
      headers: req.headers,
    };
    const check =
      hub.signatureVersion === 'v1'
        ? verifyV1(signed, secret)
        : verifyV3(signed, secret, now(), hub.maxSkewMs);
    if (!check.ok) throw new HttpError(401, `invalid signature: ${check.reason}`);
    const events = parseBody(body, HubSpotWebhookBatch);
    await enqueueOr503(deps, () =>
      enqueueIngest(deps.queues, {
        source: 'hubspot',
        receivedAt: now(),
        requestId: requestIdOf(res),
        events,
      }),
    );
    metrics.webhookRequests.inc({ source: 'hubspot', status: '200' });
    res.json({ accepted: events.length });
  });

  app.post('/webhooks/events', rawBody, async (req: Request, res: Response) => {
    const secret = deps.eventsSigningSecret;
    if (!secret) throw new HttpError(503, 'the events endpoint is not configured: set EVENTS_SIGNING_SECRET');
    const body = bodyOf(req);
    const check = verifyGeneric(body, req.headers, secret, now(), config.webhooks.hubspot.maxSkewMs);
    if (!check.ok) throw new HttpError(401, `invalid signature: ${check.reason}`);
    const batch = parseBody(body, GenericEventBatch);
    await enqueueOr503(deps, () =>
      enqueueIngest(deps.queues, {
        source: 'generic',
        receivedAt: now(),
        requestId: requestIdOf(res),
        batch,
      }),
    );
    metrics.webhookRequests.inc({ source: 'events', status: '200' });
    res.json({ accepted: batch.events.length + batch.profile.length });
  });

  app.use('/webhooks/salesforce', salesforceWebhook(deps, rawBody));

  app.use(
    '/admin',
    createAdminRouter({
      adminToken: deps.adminToken,
      redis: deps.redis,
      queues: deps.queues,
      config,
    }),
  );

  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const { status, message } = reportFailure(deps, err, req, res);
    res.status(status).json({ error: message });
  };
  app.use(onError);
  return app;
}

/**
 * Counts and logs a failed request; returns its status and the message fit for the caller (no
 * internals on unexpected errors). Also used by routers with their own error format.
 */
export function reportFailure(
  deps: Pick<AppDeps, 'logger' | 'metrics'>,
  err: unknown,
  req: Request,
  res: Response,
): { status: number; message: string } {
  const status = errorStatus(err);
  const message = status >= 500 && !(err instanceof HttpError) ? 'internal error' : (err as Error).message;
  // baseUrl: inside a mounted router, req.path is relative to the mount point.
  const path = req.baseUrl + req.path;
  if (path.startsWith('/webhooks/')) {
    deps.metrics.webhookRequests.inc({ source: path.split('/')[2] ?? 'unknown', status: String(status) });
  }
  deps.logger[status >= 500 ? 'error' : 'warn'](
    { requestId: requestIdOf(res), path, status, err: (err as Error).message },
    'request failed',
  );
  return { status, message };
}

export function requestIdOf(res: Response): string {
  return String(res.locals.requestId);
}

export function bodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** JSON.parse and zod at the boundary: anything else is a 400 that says what is wrong. */
function parseBody<T extends z.ZodType>(body: Buffer, schema: T): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new HttpError(400, `unexpected payload: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The URL the sender signed: the configured public base (behind a proxy) or the one we were called on. */
function calledUrl(req: Request, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/$/, '') + req.originalUrl;
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`;
}

export async function enqueueOr503(deps: AppDeps, enqueue: () => Promise<void>): Promise<void> {
  if (deps.redis.status !== 'ready') throw new HttpError(503, 'queue unavailable, retry later');
  try {
    await withTimeout(enqueue(), deps.enqueueTimeoutMs ?? 2_000, 'enqueue timed out');
  } catch (err) {
    deps.logger.error({ err: (err as Error).message }, 'enqueue failed');
    throw new HttpError(503, 'queue unavailable, retry later');
  }
}

function errorStatus(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  // body-parser errors carry their status (413 too large, 400 bad encoding).
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
