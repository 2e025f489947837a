import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler } from 'express';
import { createAdminRouter } from './admin.js';
import { refuseAnnouncedOver, reportFailure, withTimeout, type AppDeps } from './edge.js';
import { metricsRoute } from './metrics.js';
import { webhookRoute } from './webhooks.js';
import { webhookReceivers } from '../receive/index.js';
import { keys } from '../store/keys.js';
import { Crm } from '../domain/index.js';
import { assertNoEviction } from '../store/redis.js';
import { recordsMayBeLost } from '../store/epoch.js';

/** Why /readyz answers 503: the check that failed. */
type NotReady = 'redis_unavailable' | 'redis_eviction_policy' | 'crm_check_failed';

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

  // Public answers carry a reason code only; what went wrong, in the CRM's or Redis' words, is logged.
  app.get('/readyz', async (_req, res) => {
    let step: NotReady = 'redis_unavailable';
    try {
      await withTimeout(deps.redis.ping(), 1_000, 'Redis did not answer');
      step = 'redis_eviction_policy';
      await assertNoEviction(deps.redis);
      const k = keys(config.redis.prefix);
      // A CRM the workers found answering nothing is not checked again here: their probe does that,
      // and webhooks are still taken and queued meanwhile (degraded below, not unready).
      const unreachable = await deps.redis.mget(Crm.options.map((crm) => k.reachability(crm, 'down')));
      step = 'crm_check_failed';
      if (deps.checkCrm && !unreachable.some(Boolean))
        await withTimeout(deps.checkCrm(), 5_000, 'CRM did not answer');
      step = 'redis_unavailable';
      // Refused CDC subscriptions (recorded by the worker holding the org's CDC lock) and a CRM
      // refusing our credentials (recorded by the workers, whose queues wait for it) degrade the
      // service without making it unready: webhooks are still taken and queued. Both were logged
      // with their details when recorded.
      // So does a CRM that answers nothing (its jobs wait for it, probed once per interval).
      // So does a Redis that lost its data (recorded by the process that noticed): work goes on, each
      // note and task looked up in the CRM before it is created.
      const [refused, outages, dataLoss] = await Promise.all([
        config.salesforce.cdc && deps.salesforceOrgId
          ? deps.redis.hkeys(k.cdcRefused(deps.salesforceOrgId))
          : [],
        deps.redis.mget(Crm.options.map((crm) => k.authOutage(crm))),
        recordsMayBeLost(deps.redis, k),
      ]);
      const reasons = [
        ...(dataLoss ? ['redis_data_loss'] : []),
        ...refused.map((channel) => `salesforce_cdc_refused:${channel}`),
        ...Crm.options.flatMap((crm, i) => (outages[i] ? [`${crm}_credentials_refused`] : [])),
        ...Crm.options.flatMap((crm, i) => (unreachable[i] ? [`${crm}_unreachable`] : [])),
      ];
      res.json(reasons.length ? { status: 'degraded', reasons: reasons.sort() } : { status: 'ready' });
    } catch (err) {
      deps.logger.warn({ reason: step, err: (err as Error).message }, 'not ready');
      res.status(503).json({ status: 'unavailable', reason: step });
    }
  });

  app.get('/metrics', metricsRoute(metrics, deps.metricsToken));

  for (const [name, receiver] of Object.entries(webhookReceivers(config, deps)))
    app.use(`/webhooks/${name}`, webhookRoute(deps, name, receiver));

  app.use(
    '/admin',
    createAdminRouter({
      adminToken: deps.adminToken,
      recordUrl: deps.recordUrl,
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
