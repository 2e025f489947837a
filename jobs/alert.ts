import { AlertFailure, type AlertChannel, type AlertRecipient } from '../src/alerts/index.js';
import { leadKey } from '../src/domain/index.js';
import { connectorFor, type JobContext } from '../src/queue/context.js';
import { NotDueError } from '../src/queue/errors.js';
import type { HandoffRecord } from '../src/store/handoffs.js';
import { salesRecord } from './target.js';

export type AlertResult = { alert: 'stale' | 'no_owner' } | { alert: Record<string, string> };

/**
 * Tells the rep a handoff is theirs, on every configured channel, once. Each channel is claimed
 * (`alert.<channel>` = `sending`) before it sends: a retried or redelivered job, or a second worker,
 * finds the claim and sends nothing. A failure that sent nothing releases the claim and the job is
 * retried (after Slack's Retry-After when it gave one); one that never will succeed (no such Slack
 * user, a refused address) is recorded; one that may have gone out (the answer was lost) is not
 * sent again. Runs after the CRM writes, in a job of its own: nothing here holds them up.
 */
export async function processAlert(ctx: JobContext, handoffId: string): Promise<AlertResult> {
  const record = await ctx.handoffs.get(handoffId);
  const progress = await ctx.handoffs.progress(handoffId);
  // Queued once the CRM writes are done; a record sales had already taken gets no alert.
  if (!record?.alert || progress.stage === 'moved_on') return { alert: 'stale' };
  const ownerId = progress.ownerId ?? record.routing?.ownerId ?? null;
  if (!ownerId) return { alert: 'no_owner' };

  const pending = ctx.alerts.filter((channel) => !progress[`alert.${channel.name}`]);
  if (!pending.length) return { alert: outcomes(ctx.alerts, progress) };
  const [to, link] = await Promise.all([recipient(ctx, record, ownerId), recordLink(ctx, record)]);
  const message = { ...record.alert, link, handoffId };

  const retry: AlertFailure[] = [];
  for (const channel of pending) {
    const field = `alert.${channel.name}` as const;
    if (!channel.reaches(to)) {
      await settle(ctx, record, channel, 'no_address', `no ${channel.name} address for owner ${ownerId}`);
      continue;
    }
    if (!(await ctx.handoffs.markOnce(handoffId, field, 'sending'))) continue;
    try {
      await channel.send(to, message);
      await ctx.handoffs.mark(handoffId, field, `sent:${ctx.now()}`);
      ctx.metrics.repAlerts.inc({ channel: channel.name, outcome: 'sent' });
      await audit(ctx, record, channel, 'sent', ownerId);
    } catch (err) {
      const failure = err instanceof AlertFailure ? err : new AlertFailure('uncertain', String(err));
      if (failure.kind === 'retry') {
        await ctx.handoffs.unmark(handoffId, field);
        retry.push(failure);
      } else {
        const outcome = failure.kind === 'permanent' ? 'failed' : 'uncertain';
        await settle(ctx, record, channel, outcome, failure.reason);
      }
    }
  }
  if (retry.length) {
    const wait = Math.max(...retry.map((f) => f.retryAfterMs ?? 0));
    const reasons = retry.map((f) => f.reason).join('; ');
    ctx.logger.warn({ lead: leadKey(record.handoff.lead), handoffId, reasons }, 'rep alert will be retried');
    // A rate limit's wait is the service's, not a failed attempt; other failures back off.
    if (wait > 0) throw new NotDueError(wait);
    throw new Error(`rep alert not sent: ${reasons}`);
  }
  return { alert: outcomes(ctx.alerts, await ctx.handoffs.progress(handoffId)) };
}

/** The rep's addresses: from routing.reps, else the CRM owner's email. */
async function recipient(ctx: JobContext, record: HandoffRecord, ownerId: string): Promise<AlertRecipient> {
  const rep = ctx.config.routing.reps.find((r) => r.id === ownerId);
  if (rep?.email) return { email: rep.email, slackUserId: rep.slackUserId };
  const target = await salesRecord(ctx, record.handoff.lead);
  const owner = (await connectorFor(ctx, target.crm).owners()).find((o) => o.id === ownerId);
  return { email: owner?.email, slackUserId: rep?.slackUserId };
}

async function recordLink(ctx: JobContext, record: HandoffRecord): Promise<string> {
  const target = await salesRecord(ctx, record.handoff.lead);
  return connectorFor(ctx, target.crm).recordUrl(target);
}

/** A channel that will not send for this handoff: recorded, counted and audited, never tried again. */
async function settle(
  ctx: JobContext,
  record: HandoffRecord,
  channel: AlertChannel,
  outcome: 'failed' | 'uncertain' | 'no_address',
  why: string,
): Promise<void> {
  const { id } = record.handoff;
  await ctx.handoffs.mark(
    id,
    `alert.${channel.name}`,
    outcome === 'uncertain' ? 'uncertain' : `${outcome}:${why}`,
  );
  ctx.metrics.repAlerts.inc({ channel: channel.name, outcome });
  ctx.logger.warn(
    { lead: leadKey(record.handoff.lead), handoffId: id, channel: channel.name, why },
    'rep alert not sent',
  );
  await audit(ctx, record, channel, outcome, null, why);
}

async function audit(
  ctx: JobContext,
  record: HandoffRecord,
  channel: AlertChannel,
  outcome: string,
  ownerId: string | null,
  why?: string,
): Promise<void> {
  await ctx.handoffs.audit({
    type: 'rep_alert',
    handoffId: record.handoff.id,
    lead: leadKey(record.handoff.lead),
    detail: { channel: channel.name, outcome, ...(ownerId ? { ownerId } : {}), ...(why ? { why } : {}) },
    at: ctx.now(),
  });
}

function outcomes(
  channels: AlertChannel[],
  progress: Record<string, string | undefined>,
): Record<string, string> {
  return Object.fromEntries(
    channels.map((c) => [c.name, (progress[`alert.${c.name}`] ?? 'pending').split(':')[0]!]),
  );
}
