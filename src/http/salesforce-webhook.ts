import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import {
  OUTBOUND_ACK,
  isSameOrg,
  mapOutboundMessage,
  parseOutboundMessage,
  soapFault,
} from '../../connectors/salesforce/outbound.js';
import { enqueueIngest } from '../queue/queues.js';
import { HttpError, bodyOf, enqueueOr503, reportFailure, requestIdOf, type AppDeps } from './edge.js';

/**
 * POST /webhooks/salesforce: Salesforce Outbound Messages (SOAP). Every answer is SOAP: the Ack
 * once the changes are queued, else a fault whose faultstring Salesforce shows the admin in its
 * Outbound Message queue. Without the Ack, Salesforce retries for 24 hours, so nothing that could
 * not be queued is acknowledged.
 *
 * Outbound Messages carry no signature. What Salesforce offers is the OrganizationId inside the
 * message (checked against SALESFORCE_ORG_ID here) plus HTTPS and allow-listing Salesforce's IP
 * ranges in front of this endpoint; deploy it with both.
 */
export function salesforceWebhook(deps: AppDeps, rawBody: RequestHandler): express.Router {
  const now = deps.now ?? Date.now;
  const router = express.Router();

  router.post('/', rawBody, async (req: Request, res: Response) => {
    const orgId = deps.salesforceOrgId;
    if (!orgId)
      throw new HttpError(503, 'Salesforce Outbound Messages are not configured: set SALESFORCE_ORG_ID');
    const parsed = parseOutboundMessage(bodyOf(req));
    if (!parsed.ok) throw new HttpError(400, parsed.reason);
    const { message } = parsed;
    if (!isSameOrg(message.organizationId, orgId)) {
      deps.logger.warn(
        { requestId: requestIdOf(res), organizationId: message.organizationId, actionId: message.actionId },
        'Outbound Message from another Salesforce org',
      );
      throw new HttpError(403, 'OrganizationId does not match SALESFORCE_ORG_ID');
    }

    const receivedAt = now();
    const { profile, ignored, repeated } = mapOutboundMessage(
      message,
      deps.config.salesforce.fields,
      receivedAt,
    );
    // Only other sObjects or unmapped fields: nothing to queue, and nothing lost by acknowledging.
    if (profile.length > 0)
      await enqueueOr503(deps, () =>
        enqueueIngest(deps.queues, {
          source: 'salesforce',
          receivedAt,
          requestId: requestIdOf(res),
          events: [],
          profile,
        }),
      );
    deps.metrics.events.inc({ source: 'salesforce', outcome: 'ignored' }, ignored);
    deps.metrics.events.inc({ source: 'salesforce', outcome: 'duplicate' }, repeated);
    deps.metrics.webhookRequests.inc({ source: 'salesforce', status: '200' });
    deps.logger.debug(
      {
        requestId: requestIdOf(res),
        actionId: message.actionId,
        notifications: message.notifications.length,
        changes: profile.length,
        ignored,
        repeated,
      },
      'Outbound Message queued',
    );
    res.type('text/xml').send(OUTBOUND_ACK);
  });

  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const { status, message } = reportFailure(deps, err, req, res);
    res.status(status).type('text/xml').send(soapFault(status, message));
  };
  router.use(onError);
  return router;
}
