import type { RedisClient } from '../store/redis.js';
import type { CrmConnector, EngagementSource } from '../../connectors/types.js';
import type { Config } from '../config/schema.js';
import { retentionTtls } from '../config/retention.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { keys, type Keys } from '../store/keys.js';
import { LeadStore } from '../store/leads.js';
import { PendingScores } from '../store/pending-scores.js';
import { TimelineStore } from '../store/timeline.js';
import type { Queues } from './queues.js';
import { HandoffStore } from '../store/handoffs.js';
import { Watermarks } from '../store/watermarks.js';
import { CrmLinks } from '../store/links.js';
import { AccountIndex } from '../store/accounts.js';
import { Crm, type LeadRef } from '../domain/index.js';
import { PermanentJobError } from './errors.js';
import { redisTime } from '../store/redis.js';
import type { AlertChannel } from '../alerts/index.js';
import { reachabilityFor, type CrmReachability } from '../store/reachability.js';
import { DAY_MS } from '../domain/time.js';

/** Everything a job processor may touch. Built once per process; tests build their own. */
export interface JobContext {
  config: Config;
  redis: RedisClient;
  keys: Keys;
  timeline: TimelineStore;
  leads: LeadStore;
  pendingScores: PendingScores;
  handoffs: HandoffStore;
  queues: Queues;
  /** One connector per CRM this process writes to. */
  connectors: Partial<Record<Crm, CrmConnector>>;
  /** Pollers for what each CRM sends no webhooks for; absent for a CRM that is not polled. */
  engagementSources: Partial<Record<Crm, EngagementSource>>;
  watermarks: Watermarks;
  links: CrmLinks;
  /** Leads we know per company domain, for the account context of a handoff. */
  accounts: AccountIndex;
  /** Whether each CRM answers at all, as its connector's calls record it (shared through Redis). */
  reachability: Record<Crm, CrmReachability>;
  /** Where rep alerts go (Slack, email); none when the config turns none on. */
  alerts: AlertChannel[];
  logger: Logger;
  metrics: Metrics;
  /** This process's clock (scoring, decisions). */
  now: () => number;
  /**
   * The one clock every process shares, Redis `TIME`: SLA due checks and speed to lead, which a
   * worker with a skewed clock must not decide on its own.
   */
  sharedNow: () => Promise<number>;
}

export function createJobContext(deps: {
  config: Config;
  redis: RedisClient;
  queues: Queues;
  connectors: CrmConnector[];
  engagementSources?: Partial<Record<Crm, EngagementSource>>;
  alerts?: AlertChannel[];
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  sharedNow?: () => Promise<number>;
}): JobContext {
  const k = keys(deps.config.redis.prefix);
  const ttls = retentionTtls(deps.config);
  return {
    ...deps,
    connectors: Object.fromEntries(deps.connectors.map((c) => [c.crm, c])),
    engagementSources: deps.engagementSources ?? {},
    alerts: deps.alerts ?? [],
    keys: k,
    timeline: new TimelineStore(deps.redis, k, ttls),
    leads: new LeadStore(deps.redis, k, ttls.leadMs),
    pendingScores: new PendingScores(deps.redis, k),
    handoffs: new HandoffStore(deps.redis, k, ttls.leadMs),
    watermarks: new Watermarks(deps.redis, k),
    links: new CrmLinks(deps.redis, k),
    reachability: Object.fromEntries(
      Crm.options.map((crm) => [crm, reachabilityFor(deps.redis, deps.config, crm)]),
    ) as Record<Crm, CrmReachability>,
    accounts: new AccountIndex(deps.redis, k, deps.config.pipeline.timelineDays * DAY_MS),
    now: deps.now ?? Date.now,
    sharedNow: deps.sharedNow ?? (() => redisTime(deps.redis, k.clock)),
  };
}

/** The connector for a CRM; a job for a CRM this process has no credentials for cannot succeed here. */
export function connectorFor(ctx: JobContext, crm: Crm): CrmConnector {
  const connector = ctx.connectors[crm];
  if (!connector) throw new PermanentJobError(`no ${crm} connector is configured in this process`);
  return connector;
}

/** The CRM a lead's handoff goes to: its own, or the sales CRM when marketing runs on the other one. */
export function handoffCrm(ctx: JobContext, lead: LeadRef): Crm {
  return ctx.config.crossCrm?.handoffTo ?? lead.crm;
}
