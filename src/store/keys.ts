import type { LeadRef } from '../domain/index.js';
import { leadKey } from '../domain/index.js';

/**
 * Every key the worker writes, under one prefix. The prefix is a hash tag such as `{leadflow}`,
 * so all keys share one Cluster slot and multi-key scripts stay legal.
 */
export function keys(prefix: string) {
  const leadStates = `${prefix}:lead:`;
  return {
    prefix,
    dedupe: (eventId: string) => `${prefix}:dedupe:${eventId}`,
    timeline: (lead: LeadRef) => `${prefix}:timeline:${leadKey(lead)}`,
    /** Hash: `<rule key>|<day>` → `n w lo hi`, the lead's events folded once its timeline passed the cap. */
    history: (lead: LeadRef) => `${prefix}:history:${leadKey(lead)}`,
    profile: (lead: LeadRef) => `${prefix}:profile:${leadKey(lead)}`,
    leadState: (lead: LeadRef) => `${leadStates}${leadKey(lead)}`,
    handoff: (id: string) => `${prefix}:handoff:${id}`,
    progress: (handoffId: string) => `${prefix}:progress:${handoffId}`,
    /** String: the token of the one job run writing a handoff to the CRM (expires unless renewed). */
    writeLease: (handoffId: string) => `${prefix}:write-lease:${handoffId}`,
    /**
     * Sorted set: lead key → total score, the score index before `scoreCounts`; a lead leaves it
     * when its state is next written (into the counts) or forgotten. Nothing is added to it.
     */
    scores: `${prefix}:scores`,
    /** Hash: total score (0–100) → how many leads have it, for distributions without scanning. */
    scoreCounts: `${prefix}:score-counts`,
    /** What every lead state key starts with (one per lead we track), the lead key following. */
    leadStates,
    /** Hash: lead → score version not yet written to the CRM. */
    pendingScores: `${prefix}:pending-scores`,
    audit: `${prefix}:audit`,
    /** Hash: UTC day (`2026-11-24`) → the report's counters of that day (JSON), once its entries are trimmed. */
    auditDays: `${prefix}:audit-days`,
    /** String: the token of the one process rolling audit days up (expires unless renewed). */
    auditSweepLease: `${prefix}:audit-sweep-lease`,
    /**
     * List: reserved send times of the CRM account's recent requests (shared rate budget); `…:sent`,
     * sorted set: the requests sent, scored by their lease while in flight and by their answer after.
     */
    budget: (crm: string) => `${prefix}:budget:${crm}`,
    /** Hash: rep id → virtual time of the rep's next turn in one round-robin pool (a routing rule). */
    routingTurns: (pool: string) => `${prefix}:routing:turns:${pool}`,
    /** Hash: rep id → leads assigned in one period (`d:2026-11-24`, `w:2026-W48`), for capacity caps. */
    repAssigned: (period: string) => `${prefix}:routing:assigned:${period}`,
    /** String: the rep a round-robin pool gave one handoff (or reassignment), so a retry gets the same. */
    routingPick: (key: string) => `${prefix}:routing:pick:${key}`,
    /** Hash: company email domain → owner id, for account-owner routing. */
    accountOwners: `${prefix}:routing:accounts`,
    /** Sorted set: the leads seen at one company email domain (JSON LeadRef → when last scored). */
    account: (domain: string) => `${prefix}:account:${domain}`,
    /** String: how far a poller has read (ms timestamp), advanced only after what it read is queued. */
    watermark: (poller: string) => `${prefix}:watermark:${poller}`,
    /** Hash: the CRM's current OAuth access and refresh tokens, shared by every process. */
    oauth: (crm: string) => `${prefix}:oauth:${crm}`,
    /** Hash: the CRM org's daily API usage as its last answer reported it (`used`, `max`, `at`). */
    apiUsage: (crm: string) => `${prefix}:api-usage:${crm}`,
    /**
     * Hash: where a Change Data Capture channel resumes: `replayId` and `commitTimestamp` of the last
     * event processed, and `reconcileSince` while a reconciliation poll is still owed.
     */
    replayId: (channel: string) => `${prefix}:replay:${channel}`,
    /**
     * Hash: CDC channel → why Salesforce refused its subscription, for /readyz; expires unless the
     * subscriber probes the channel again and it is still refused.
     */
    cdcRefused: (orgId: string) => `${prefix}:cdc-refused:${orgId}`,
    /**
     * String: why the CRM refuses our credentials after a token refresh, for /readyz; while it is set,
     * one call per probe interval goes to that CRM (src/store/reachability.ts); it expires once probes
     * stop being refused.
     */
    authOutage: (crm: string) => `${prefix}:auth-outage:${crm}`,
    /**
     * The CRM's reachability (src/store/reachability.ts): `down` (string, why, while it counts as
     * unreachable; expires unless misses renew it), `probe` (string, the one probe of an interval),
     * `misses` (counter of calls in a row it answered none of), `waiting` (sorted set of `queue:jobId`
     * held for it, by when, run at once when it answers or takes our credentials again),
     * `credentials-probe` (string, the one call of an interval while it refuses our credentials).
     */
    reachability: (crm: string, part: 'down' | 'probe' | 'misses' | 'waiting' | 'credentials-probe') =>
      `${prefix}:crm-${part}:${crm}`,
    /** Never written: names the prefix's slot, so Redis' clock is read on the node that owns it. */
    clock: `${prefix}:clock`,
    /** String: written to learn whether Redis takes writes again (after OOM), short-lived. */
    writeProbe: `${prefix}:write-probe`,
    /** String: this Redis' data generation, written once; gone means Redis lost its data. No TTL. */
    epoch: `${prefix}:epoch`,
    /** String: the data loss being recovered from (JSON), for as long as lost records are looked up in the CRM. */
    dataLoss: `${prefix}:data-loss`,
    /** String: the token of the one process subscribed to an org's change events (expires unless renewed). */
    cdcLock: (orgId: string) => `${prefix}:cdc-lock:${orgId}`,
    /** Hash: lead key → the same person's record in the other CRM (both directions), for cross-CRM handoffs. */
    crmLinks: `${prefix}:crm-links`,
    /** Hash: where an interrupted backfill resumes. */
    backfill: (crm: string) => `${prefix}:backfill:${crm}`,
  };
}
export type Keys = ReturnType<typeof keys>;
