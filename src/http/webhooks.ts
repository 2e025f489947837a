import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { enqueueIngest } from '../queue/queues.js';
import type { Reply, WebhookReceiver } from '../receive/index.js';
import { HttpError, bodyOf, enqueueOr503, reportFailure, requestIdOf, type AppDeps } from './edge.js';

/**
 * POST /webhooks/<name>: hands the raw delivery to its receiver (src/receive), queues the ingest job
 * the receiver made and answers in the receiver's words. No CRM payload is parsed here.
 */
export function webhookRoute(
  deps: AppDeps,
  name: string,
  receiver: WebhookReceiver,
  rawBody: RequestHandler,
): express.Router {
  const now = deps.now ?? Date.now;
  const router = express.Router();

  router.post('/', rawBody, async (req: Request, res: Response) => {
    const requestId = requestIdOf(res);
    const receipt = receiver.receive({
      method: req.method,
      origin: `${req.protocol}://${req.get('host') ?? 'localhost'}`,
      path: req.originalUrl,
      headers: req.headers,
      rawBody: bodyOf(req),
      receivedAt: now(),
      requestId,
    });
    if (!receipt.ok) {
      if (receipt.note) deps.logger.warn({ requestId, ...receipt.note.detail }, receipt.note.message);
      throw new HttpError(receipt.status, receipt.reason);
    }
    const { job } = receipt;
    if (job) await enqueueOr503(deps, () => enqueueIngest(deps.queues, job));
    for (const [outcome, count] of Object.entries(receipt.counted ?? {}))
      deps.metrics.events.inc({ source: receiver.source, outcome }, count);
    deps.metrics.webhookRequests.inc({ source: name, status: '200' });
    if (receipt.note) deps.logger.debug({ requestId, ...receipt.note.detail }, receipt.note.message);
    send(res, receipt.reply);
  });

  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const { status, message } = reportFailure(deps, err, req, res);
    res.status(status);
    send(res, receiver.fault ? receiver.fault(status, message) : { json: { error: message } });
  };
  router.use(onError);
  return router;
}

function send(res: Response, reply: Reply): void {
  if ('xml' in reply) res.type('text/xml').send(reply.xml);
  else res.json(reply.json);
}
