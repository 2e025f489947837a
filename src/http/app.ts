import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler } from 'express';
import { createAdminRouter } from './admin.js';
import { refuseAnnouncedOver, reportFailure, withTimeout, type AppDeps } from './edge.js';
import { webhookRoute } from './webhooks.js';
import { webhookReceivers } from '../receive/index.js';
import { keys } from '../store/keys.js';
import { Crm } from '../domain/index.js';
import { assertNoEviction } from '../store/redis.js';

export type { AppDeps } from './edge.js';

export function createApp(deps: AppDeps): express.Express {
  const { config, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Hops whose X-Forwarded-For / -Proto are believed (req.ip, req.protocol); 0: none.
  app.set('trust proxy', config.http.trustProxy);

  // One id per request, echoed back and carried into the ingest job, so a delivery can be followed.
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set('x-request-id', id);
    next();
  });

  // No route takes more than the largest webhook body: a larger announcement is refused at once.
  app.use(refuseAnnouncedOver(config.webhooks.maxBodyBytes));

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

  for (const [name, receiver] of Object.entries(webhookReceivers(config, deps)))
    app.use(`/webhooks/${name}`, webhookRoute(deps, name, receiver));

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
