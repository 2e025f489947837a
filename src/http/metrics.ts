import express, { type RequestHandler } from 'express';
import type { Metrics } from '../metrics.js';
import { secureEqual } from '../secure-compare.js';
import { bearerToken } from './edge.js';

/** `GET /metrics` in Prometheus' text format; with a token set, only for `Authorization: Bearer <token>`. */
export function metricsRoute(metrics: Metrics, token: string | undefined): RequestHandler {
  return async (req, res) => {
    const bearer = bearerToken(req);
    if (token && !(bearer && secureEqual(bearer, token))) {
      res.status(401).set('www-authenticate', 'Bearer').json({ error: 'metrics token required' });
      return;
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}

/**
 * What a worker process without the HTTP server serves on METRICS_PORT: its own metrics (jobs, CRM
 * calls, speed to lead are counted where the work is done) and `/healthz`. No webhooks, no admin.
 */
export function createMetricsApp(metrics: Metrics, token: string | undefined): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/metrics', metricsRoute(metrics, token));
  return app;
}
