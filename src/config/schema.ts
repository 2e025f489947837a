import { z } from 'zod';
import { Alerts } from './schema/alerts.js';
import { CrossCrm } from './schema/cross-crm.js';
import { Dispositions } from './schema/dispositions.js';
import { Guardrails } from './schema/guardrails.js';
import { HandRaise, HandoffNote, Lifecycle, Thresholds } from './schema/handoff.js';
import { HttpServer } from './schema/http.js';
import { HubSpot } from './schema/hubspot.js';
import { Pipeline } from './schema/pipeline.js';
import { Redis } from './schema/redis.js';
import { Retention } from './schema/retention.js';
import { Routing } from './schema/routing.js';
import { Salesforce } from './schema/salesforce.js';
import { Scoring } from './schema/scoring.js';
import { SlaPolicy } from './schema/sla.js';
import { Webhooks } from './schema/webhooks.js';

// The config file, one module per section under schema/; every name other modules import is re-exported here.
export { Alerts } from './schema/alerts.js';
export { Matcher } from './schema/common.js';
export { CrossCrm } from './schema/cross-crm.js';
export { DispositionAction, Dispositions } from './schema/dispositions.js';
export { GuardrailAction, Guardrails } from './schema/guardrails.js';
export { HandRaise, HandoffNote, Lifecycle, Thresholds } from './schema/handoff.js';
export { HttpServer } from './schema/http.js';
export { HubSpot, HubSpotFields, HubSpotPolling, HubSpotSignal } from './schema/hubspot.js';
export { Pipeline } from './schema/pipeline.js';
export { Redis } from './schema/redis.js';
export { Retention } from './schema/retention.js';
export { Rep, Routing, RoutingRule } from './schema/routing.js';
export { Salesforce, SalesforceFields, SalesforcePolling } from './schema/salesforce.js';
export { Decay, EngagementRule, FitRule, Scoring } from './schema/scoring.js';
export { SlaPolicy, WorkingHours } from './schema/sla.js';
export { SalesforceOutboundEndpoint, Webhooks } from './schema/webhooks.js';

export const Config = z
  .strictObject({
    $schema: z.string().optional(),
    redis: Redis.prefault({}),
    scoring: Scoring,
    thresholds: Thresholds,
    handRaise: HandRaise,
    guardrails: Guardrails.prefault({}),
    handoffNote: HandoffNote.prefault({}),
    lifecycle: Lifecycle.prefault({}),
    routing: Routing.prefault({}),
    sla: SlaPolicy.prefault({}),
    alerts: Alerts.prefault({}),
    dispositions: Dispositions.prefault({}),
    pipeline: Pipeline.prefault({}),
    retention: Retention.prefault({}),
    http: HttpServer.prefault({}),
    webhooks: Webhooks.prefault({}),
    hubspot: HubSpot.prefault({}),
    salesforce: Salesforce.prefault({}),
    crossCrm: CrossCrm.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.webhooks.salesforce.clientCertificate?.header && c.http.trustProxy === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['webhooks', 'salesforce', 'clientCertificate', 'header'],
        message: 'a header is only believable from a proxy: set http.trustProxy',
      });
    if (c.webhooks.salesforce.maxBodyBytes > c.webhooks.maxBodyBytes)
      ctx.addIssue({
        code: 'custom',
        path: ['webhooks', 'salesforce', 'maxBodyBytes'],
        message: 'must not exceed webhooks.maxBodyBytes',
      });
    if (c.thresholds.sql < c.thresholds.mql)
      ctx.addIssue({ code: 'custom', path: ['thresholds', 'sql'], message: 'must be ≥ thresholds.mql' });
    const reps = new Set(c.routing.reps.map((r) => r.id));
    c.routing.reps.forEach((rep, i) => {
      if (c.routing.reps.findIndex((r) => r.id === rep.id) !== i)
        ctx.addIssue({
          code: 'custom',
          path: ['routing', 'reps', i, 'id'],
          message: `duplicate rep "${rep.id}"`,
        });
    });
    c.routing.rules.forEach((rule, i) => {
      if (rule.strategy === 'round_robin' && rule.reps.length === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['routing', 'rules', i, 'reps'],
          message: 'round_robin needs reps',
        });
      rule.reps.forEach((id, j) => {
        if (!reps.has(id))
          ctx.addIssue({
            code: 'custom',
            path: ['routing', 'rules', i, 'reps', j],
            message: `"${id}" is not in routing.reps`,
          });
      });
    });
  });
export type Config = z.infer<typeof Config>;
