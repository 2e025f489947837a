import { TLSSocket } from 'node:tls';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { enqueueIngest } from '../queue/queues.js';
import type { Reply, WebhookReceiver } from '../receive/index.js';
import {
  HttpError,
  bodyOf,
  enqueueOr503,
  refuseAnnouncedOver,
  reportFailure,
  requestIdOf,
  type AppDeps,
} from './edge.js';

/**
 * POST /webhooks/<name>: hands the raw delivery to its receiver (src/receive), queues the ingest job
 * the receiver made and answers in the receiver's words. No CRM payload is parsed here. A receiver
 * that admits callers (URL token, source address, certificate) does so before the body is read.
 */
export function webhookRoute(deps: AppDeps, name: string, receiver: WebhookReceiver): express.Router {
  const now = deps.now ?? Date.now;
  const maxBodyBytes = receiver.limits?.maxBodyBytes ?? deps.config.webhooks.maxBodyBytes;
  const router = express.Router();

  const admit: RequestHandler = (req, res, next) => {
    const refused = receiver.admit?.({
      pathToken: typeof req.params.token === 'string' ? req.params.token : undefined,
      ip: req.ip ?? req.socket.remoteAddress ?? '',
      headers: req.headers,
      peerCertificate: verifiedPeerCertificate(req),
    });
    if (refused) {
      if (refused.note)
        deps.logger.warn({ requestId: requestIdOf(res), ...refused.note.detail }, refused.note.message);
      throw new HttpError(refused.status, refused.reason);
    }
    next();
  };

  router.post(
    receiver.admit ? '/{:token}' : '/',
    admit,
    refuseAnnouncedOver(maxBodyBytes),
    ...(receiver.limits ? [atMost(receiver.limits.maxConcurrent)] : []),
    express.raw({ type: () => true, limit: maxBodyBytes }),
    async (req: Request, res: Response) => {
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
      if (job) await enqueueOr503(deps, () => enqueueIngest(deps.queues, job, deps.config.handRaise));
      for (const [outcome, count] of Object.entries(receipt.counted ?? {}))
        deps.metrics.events.inc({ source: receiver.source, outcome }, count);
      deps.metrics.webhookRequests.inc({ source: name, status: '200' });
      if (receipt.note) deps.logger.debug({ requestId, ...receipt.note.detail }, receipt.note.message);
      send(res, receipt.reply);
    },
  );

  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const { status, message } = reportFailure(deps, err, req, res);
    res.status(status);
    send(res, receiver.fault ? receiver.fault(status, message) : { json: { error: message } });
  };
  router.use(onError);
  return router;
}

/**
 * At most `limit` deliveries read and parsed at once (parsing is synchronous: a burst of big bodies
 * would hold the event loop); the next is answered 503 with Retry-After, and its sender retries.
 */
function atMost(limit: number): RequestHandler {
  let inFlight = 0;
  return (_req, res, next) => {
    if (inFlight >= limit) {
      res.set('retry-after', '1');
      throw new HttpError(503, 'too many deliveries in progress, retry later');
    }
    inFlight++;
    // 'close' comes once the answer is sent or the client went away, whichever happens.
    res.once('close', () => inFlight--);
    next();
  };
}

/** The fingerprint of a client certificate the TLS layer verified, when TLS ends in this process. */
function verifiedPeerCertificate(req: Request): string | undefined {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  return socket.getPeerCertificate().fingerprint256;
}

function send(res: Response, reply: Reply): void {
  if ('xml' in reply) res.type('text/xml').send(reply.xml);
  else res.json(reply.json);
}
