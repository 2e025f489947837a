import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { z } from 'zod';
import { verifyV1, verifyV3 } from '../../connectors/hubspot/signature.js';
import { HubSpotWebhookBatch } from '../../connectors/hubspot/webhook.js';
import { createAdminRouter } from './admin.js';
import { salesforceWebhook } from './salesforce-webhook.js';
import {
  HttpError,
  bodyOf,
  enqueueOr503,
  reportFailure,
  requestIdOf,
  withTimeout,
  type AppDeps,
} from './edge.js';
import { GenericEventBatch } from '../domain/generic-events.js';
import { verifyGeneric } from './generic-webhook.js';
import { enqueueIngest } from '../queue/queues.js';
import { keys } from '../store/keys.js';
import { Crm } from '../domain/index.js';
import { assertNoEviction } from '../store/redis.js';

export type { AppDeps } from './edge.js';

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
      const k = keys(config.redis.prefix);
      // Refused CDC subscriptions (recorded by the worker holding the org's CDC lock) and a CRM
      // refusing our credentials (recorded by the workers, whose queues wait for it) degrade the
      // service without making it unready: webhooks are still taken and queued.
      const [refused, outages] = await Promise.all([
        config.salesforce.cdc && deps.salesforceOrgId
          ? deps.redis.hvals(k.cdcRefused(deps.salesforceOrgId))
          : [],
        deps.redis.mget(Crm.options.map((crm) => k.authOutage(crm))),
      ]);
      const reasons = [
        ...refused,
        ...Crm.options.flatMap((crm, i) =>
          outages[i] ? [`${crm} credentials refused, CRM queues paused: ${outages[i]}`] : [],
        ),
      ];
      res.json(reasons.length ? { status: 'degraded', reasons: reasons.sort() } : { status: 'ready' });
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
