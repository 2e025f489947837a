import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per process role; tests create their own so counts never leak between them. */
export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry });
  return {
    registry,
    webhookRequests: new Counter({
      name: 'leadflow_webhook_requests_total',
      help: 'Webhook requests by source and HTTP status',
      labelNames: ['source', 'status'] as const,
      registers: [registry],
    }),
    events: new Counter({
      name: 'leadflow_events_total',
      help: 'Normalized events by source and outcome (recorded, duplicate, ignored)',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    jobs: new Counter({
      name: 'leadflow_jobs_total',
      help: 'Jobs by queue and outcome',
      labelNames: ['queue', 'outcome'] as const,
      registers: [registry],
    }),
    crmRequests: new Counter({
      name: 'leadflow_crm_requests_total',
      help: 'CRM requests by connector, endpoint and outcome (ok, HTTP status, network)',
      labelNames: ['crm', 'endpoint', 'outcome'] as const,
      registers: [registry],
    }),
    crmLatency: new Histogram({
      name: 'leadflow_crm_request_seconds',
      help: 'CRM request latency by connector and endpoint',
      labelNames: ['crm', 'endpoint'] as const,
      buckets: [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    crmFailures: new Counter({
      name: 'leadflow_crm_failures_total',
      help: 'Failed CRM writebacks by connector and retry decision',
      labelNames: ['crm', 'decision'] as const,
      registers: [registry],
    }),
    rateLimitPauses: new Counter({
      name: 'leadflow_rate_limit_pauses_total',
      help: 'Queue pauses after a CRM rate limit, by scope (interval, daily)',
      labelNames: ['crm', 'scope'] as const,
      registers: [registry],
    }),
    crmAuthOutage: new Gauge({
      name: 'leadflow_crm_auth_outage',
      help: 'CRM refusing our credentials after a token refresh (1): its queues are paused until a probe works',
      labelNames: ['crm'] as const,
      registers: [registry],
    }),
    crmUnreachable: new Gauge({
      name: 'leadflow_crm_unreachable',
      help: 'CRM answering nothing (1): its jobs wait without spending attempts, one request per probe interval checks it',
      labelNames: ['crm'] as const,
      registers: [registry],
    }),
    redisUnavailable: new Gauge({
      name: 'leadflow_redis_unavailable',
      help: 'Jobs in hand waiting for Redis to take writes again (unreachable or out of memory)',
      registers: [registry],
    }),
    deadLetters: new Gauge({
      name: 'leadflow_dead_letters',
      help: 'Dead letters (failed jobs) kept per queue, as the last sweep counted them',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    deadLettersDropped: new Counter({
      name: 'leadflow_dead_letters_dropped_total',
      help: 'Dead letters dropped per queue after pipeline.deadLetters.retentionDays: alert on any',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    auditEntries: new Gauge({
      name: 'leadflow_audit_entries',
      help: 'Entries in the audit stream after the last audit sweep (whole days of retention.auditDays, then kept as counters)',
      registers: [registry],
    }),
    auditDaysKept: new Counter({
      name: 'leadflow_audit_days_kept_total',
      help: "UTC days of the audit stream kept as the report's counters, their entries trimmed",
      registers: [registry],
    }),
    redisDataLoss: new Gauge({
      name: 'leadflow_redis_data_loss',
      help: 'Redis lost its data (1) and notes and tasks are looked up in the CRM before any is created, until redis.dataLoss.recoveryHours pass',
      registers: [registry],
    }),
    handoffs: new Counter({
      name: 'leadflow_handoffs_total',
      help: 'Handoffs decided, by stage, trigger and the lead owner at handoff time',
      labelNames: ['stage', 'trigger', 'owner'] as const,
      registers: [registry],
    }),
    budgetWaits: new Histogram({
      name: 'leadflow_rate_budget_wait_seconds',
      help: 'Time CRM calls waited for the shared request budget',
      labelNames: ['crm'] as const,
      buckets: [0.01, 0.1, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    speedToLead: new Histogram({
      name: 'leadflow_speed_to_lead_seconds',
      help: 'From webhook receipt to all handoff writes acknowledged by the CRM',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
    timeToFirstAction: new Histogram({
      name: 'leadflow_time_to_first_rep_action_seconds',
      help: 'From the handoff written to the CRM to the rep first acting on it',
      buckets: [60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600],
      registers: [registry],
    }),
    slaBreaches: new Counter({
      name: 'leadflow_sla_breaches_total',
      help: 'Handoffs whose rep did not act by the SLA due time, by the action taken',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    repAlerts: new Counter({
      name: 'leadflow_rep_alerts_total',
      help: 'Handoff alerts to reps by channel and outcome (sent, failed: given up, uncertain: lost mid-send, not resent, no_address)',
      labelNames: ['channel', 'outcome'] as const,
      registers: [registry],
    }),
    dispositions: new Counter({
      name: 'leadflow_dispositions_total',
      help: 'Sales dispositions by action taken (unknown: reason code not mapped, nothing done)',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    cdcRefused: new Gauge({
      name: 'leadflow_cdc_channel_refused',
      help: 'Change Data Capture channels Salesforce refused to subscribe (1), e.g. for missing View All Records',
      labelNames: ['channel'] as const,
      registers: [registry],
    }),
    ownersRejected: new Counter({
      name: 'leadflow_owners_rejected_total',
      help: 'Routed owners not written because the CRM does not know them or they are deactivated',
      labelNames: ['why'] as const,
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
