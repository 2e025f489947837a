import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../src/store/redis.js';
import type { Connection } from 'jsforce';
import { z } from 'zod';
import type { SalesforceFields } from '../../src/config/schema.js';
import type { Logger } from '../../src/logger.js';
import type { Metrics } from '../../src/metrics.js';
import type { PollJob } from '../../src/queue/catalog.js';
import { enqueueIngest, enqueueReconciliationPoll, type Queues } from '../../src/queue/queues.js';
import type { Keys } from '../../src/store/keys.js';
import { Lease } from '../../src/store/lease.js';
import { receiveCdcMessage } from '../../src/receive/salesforce-cdc.js';
import {
  CDC_SOURCE,
  ENTITIES,
  RECONCILE_OVERLAP_MS,
  cdcFieldMap,
  isEntity,
  type CdcFieldMap,
  type StreamPosition,
} from './mapping.js';
import { channelClient, shut, type StreamingClient } from './cdc-client.js';
import { RefusalRecord, isInvalidReplayError, subscribeRefusal } from './cdc-refusal.js';

/*
 * Change Data Capture: Lead and Contact change events over CometD (jsforce streaming), handed to
 * their receiver (src/receive/salesforce-cdc.ts, pure) and queued for ingest; the subscriber below
 * does the I/O.
 */

/** The poll sources a channel's events cover, for a reconciliation after a lost replay position. */
export function channelPollSources(channel: string): PollJob['source'][] {
  if (channel === '/data/ChangeEvents') return Object.values(ENTITIES).map((e) => e.source);
  const entity = /^\/data\/(\w+)ChangeEvent$/.exec(channel)?.[1];
  return entity && isEntity(entity) ? [ENTITIES[entity].source] : [];
}

/* ------------------------------------------------------------------------------------------------ */

const StoredPosition = z.object({
  replayId: z.coerce.number().int().min(-1).optional(),
  commitTimestamp: z.coerce.number().int().nonnegative().optional(),
  reconcileSince: z.coerce.number().int().nonnegative().optional(),
});
type StoredPosition = z.infer<typeof StoredPosition>;

class LockLost extends Error {
  constructor() {
    super('CDC subscriber lock lost');
    this.name = 'LockLost';
  }
}

interface ChannelStream {
  channel: string;
  /** Bumped whenever the client is replaced: late callbacks of an older client are ignored. */
  generation: number;
  client: StreamingClient | null;
  /** Messages are handled one after another, in the order the server sent them. */
  chain: Promise<void>;
  failures: number;
  reopenTimer: NodeJS.Timeout | null;
}

export interface CdcSubscriberOptions {
  /** A jsforce connection that can refresh its token (refresh token + OAuth client, or `refreshFn`). */
  conn: Connection;
  redis: RedisClient;
  keys: Keys;
  queues: Queues;
  fields: SalesforceFields;
  channels: readonly string[];
  /** One subscriber per org across every process. */
  orgId: string;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** How long the lock outlives a process that stopped renewing it. */
  lockTtlMs?: number;
  /** Backoff between reconnections after a failure, doubling from `minMs` up to `maxMs`. */
  retry?: { minMs: number; maxMs: number };
  /**
   * A refused subscription is not retried like a failure: the channel is probed again this much
   * later (default 15 minutes), so granting the permission heals it without a restart.
   */
  refusedProbeMs?: number;
}

/**
 * One CometD client per channel (jsforce's Replay extension tracks a single channel), resuming from
 * the replay id stored in Redis. A channel never stored starts at -1 (new events only): history
 * before the subscriber existed comes from backfill and polling, not from a replay of up to 72 hours
 * with -2 (all retained events), which would rescore every recent change at once.
 *
 * A message's replay id is stored only after its work is queued, so a crash replays it and the stable
 * ids dedupe. A failed enqueue closes the client and reopens it from the stored id after a backoff,
 * never skipping. When the server no longer has the stored id (older than the retention window), the
 * channel resumes at -1 and owes a reconciliation poll from the last commit time it stored: -2 would
 * not help, since the events between our position and the oldest retained one are gone either way,
 * and the poll reads them from the records themselves. The debt is stored before resubscribing and
 * cleared only once the poll is queued, so a crash in between still pays it.
 */
export class SalesforceCdcSubscriber {
  private readonly lease: Lease;
  private readonly fieldMap: CdcFieldMap;
  private readonly now: () => number;
  private readonly lockTtlMs: number;
  private readonly retry: { minMs: number; maxMs: number };
  private readonly refusedProbeMs: number;
  private readonly refusals: RefusalRecord;
  private readonly streams: ChannelStream[];
  private running = false;
  private active = false;
  private lastRenewedAt = 0;
  private lockTimer: NodeJS.Timeout | null = null;
  private lockTick: Promise<void> = Promise.resolve();
  private readonly onRefresh = () => {
    this.opts.logger.info('salesforce token refreshed: recreating CDC streaming clients');
    for (const stream of this.streams) if (this.active) this.reopen(stream, 0);
  };

  constructor(private readonly opts: CdcSubscriberOptions) {
    this.lease = new Lease(opts.redis, opts.keys.cdcLock(opts.orgId), randomUUID());
    this.fieldMap = cdcFieldMap(opts.fields);
    this.now = opts.now ?? Date.now;
    this.lockTtlMs = opts.lockTtlMs ?? 30_000;
    this.retry = opts.retry ?? { minMs: 1_000, maxMs: 60_000 };
    this.refusedProbeMs = opts.refusedProbeMs ?? 15 * 60_000;
    this.refusals = new RefusalRecord({
      redis: opts.redis,
      key: opts.keys.cdcRefused(opts.orgId),
      ttlMs: 2 * this.refusedProbeMs,
      logger: opts.logger,
      metrics: opts.metrics,
    });
    this.streams = opts.channels.map((channel) => ({
      channel,
      generation: 0,
      client: null,
      chain: Promise.resolve(),
      failures: 0,
      reopenTimer: null,
    }));
  }

  /** Whether this process holds the org's lock and is subscribed. */
  get isActive(): boolean {
    return this.active;
  }

  /** Takes the lock if free (else waits for it as a standby) and subscribes while it holds it. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.opts.conn.on('refresh', this.onRefresh);
    await this.tickLock();
    this.lockTimer = setInterval(() => void this.tickLock(), Math.max(50, Math.floor(this.lockTtlMs / 3)));
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.lockTimer) clearInterval(this.lockTimer);
    this.opts.conn.removeListener('refresh', this.onRefresh);
    await this.lockTick;
    await this.standDown();
    await this.lease.release();
  }

  private tickLock(): Promise<void> {
    this.lockTick = this.lockTick.then(() => this.renewOrAcquire());
    return this.lockTick;
  }

  private async renewOrAcquire(): Promise<void> {
    if (!this.running) return;
    try {
      if (this.active) {
        if (await this.lease.renew(this.lockTtlMs)) {
          this.lastRenewedAt = Date.now();
          return;
        }
        this.opts.logger.warn({ orgId: this.opts.orgId }, 'CDC lock taken by another process: standing by');
        await this.standDown();
      } else if (await this.lease.acquire(this.lockTtlMs)) {
        this.lastRenewedAt = Date.now();
        this.active = true;
        this.opts.logger.info(
          { orgId: this.opts.orgId, channels: this.opts.channels },
          'CDC subscriber active',
        );
        for (const stream of this.streams) this.reopen(stream, 0);
      }
    } catch (err) {
      // Unable to confirm the lock for a whole TTL: another process may hold it by now.
      this.opts.logger.error({ err }, 'CDC lock check failed');
      if (this.active && Date.now() - this.lastRenewedAt > this.lockTtlMs) await this.standDown();
    }
  }

  /** Closes every client; messages not yet handled are read again by whoever subscribes next. */
  private async standDown(): Promise<void> {
    this.active = false;
    for (const stream of this.streams) this.closeStream(stream);
    await Promise.all(this.streams.map((s) => s.chain));
  }

  private closeStream(stream: ChannelStream): void {
    stream.generation++;
    if (stream.reopenTimer) clearTimeout(stream.reopenTimer);
    stream.reopenTimer = null;
    if (stream.client) shut(stream.client);
    stream.client = null;
  }

  private reopen(stream: ChannelStream, delayMs: number): void {
    this.closeStream(stream);
    const generation = stream.generation;
    stream.reopenTimer = setTimeout(() => {
      stream.reopenTimer = null;
      void this.open(stream, generation).catch((err: unknown) => this.fail(stream, generation, err));
    }, delayMs);
  }

  private async open(stream: ChannelStream, generation: number): Promise<void> {
    // The message being handled finishes first, so the position read below is the latest.
    await stream.chain;
    if (generation !== stream.generation || !this.active) return;
    const stored = await this.readPosition(stream.channel);
    if (generation !== stream.generation || !this.active) return;
    const replayFrom = stored.replayId ?? -1;
    const client = channelClient(this.opts.conn, stream.channel, replayFrom, {
      refused: (error) => void this.subscribeFailed(stream, generation, error),
      authFailure: (message) => void this.authFailed(stream, generation, message),
    });
    stream.client = client;
    const subscription = client.subscribe(stream.channel, (data: unknown) =>
      this.enqueueHandling(stream, generation, () =>
        this.handle(stream.channel, { channel: stream.channel, data }),
      ),
    );
    // Refusals arrive through the client's refusal watch, also those of faye's own resubscriptions.
    subscription.then(() => {
      this.opts.logger.info({ channel: stream.channel, replayFrom }, 'CDC subscribed');
      void this.refusals.clear(stream.channel);
      const subscribedAt = this.now();
      if (stored.reconcileSince !== undefined || stored.replayId === -1)
        this.enqueueHandling(stream, generation, () => this.reconcile(stream.channel, subscribedAt));
    }, noop);
  }

  private enqueueHandling(stream: ChannelStream, generation: number, work: () => Promise<void>): void {
    if (generation !== stream.generation) return;
    stream.chain = stream.chain.then(async () => {
      // After a failure the rest is read again from the stored position by the next client.
      if (generation !== stream.generation) return;
      try {
        await work();
        stream.failures = 0;
      } catch (err) {
        this.fail(stream, generation, err);
      }
    });
  }

  private fail(stream: ChannelStream, generation: number, err: unknown): void {
    if (generation !== stream.generation) return;
    if (err instanceof LockLost) {
      this.opts.logger.warn({ channel: stream.channel }, 'CDC lock lost: standing by');
      this.active = false;
      for (const s of this.streams) this.closeStream(s);
      return;
    }
    const delay = Math.min(this.retry.maxMs, this.retry.minMs * 2 ** stream.failures++);
    this.opts.logger.error(
      { err, channel: stream.channel, retryInMs: delay },
      'CDC channel failed: reconnecting',
    );
    if (this.active && this.running) this.reopen(stream, delay);
    else this.closeStream(stream);
  }

  /**
   * jsforce's client keeps the Authorization header it was created with: refresh the token (once
   * for every channel that fails at the same time) and recreate the client.
   */
  private async authFailed(stream: ChannelStream, generation: number, message: unknown): Promise<void> {
    if (generation !== stream.generation) return;
    const failedAt = Date.now();
    this.closeStream(stream);
    const reason = z.object({ error: z.string() }).safeParse(message);
    this.opts.logger.warn(
      { channel: stream.channel, error: reason.success ? reason.data.error : undefined },
      'CDC authentication invalid: refreshing the token',
    );
    try {
      const delegate = this.opts.conn._refreshDelegate;
      if (!delegate) throw new Error('the Salesforce connection cannot refresh its token');
      // Skipped when the token was already refreshed since the failure; 'refresh' reopens the clients.
      await delegate.refresh(failedAt);
      if (this.active && !stream.client && !stream.reopenTimer) this.reopen(stream, 0);
    } catch (err) {
      this.fail(stream, stream.generation, err);
    }
  }

  /**
   * A refusal for good (permissions): said once, loudly — log, metric, /readyz — and probed again
   * only after `refusedProbeMs`, instead of reconnecting with backoff forever.
   */
  private async refused(stream: ChannelStream, reason: string): Promise<void> {
    this.closeStream(stream);
    this.opts.logger.error({ channel: stream.channel, reason }, 'CDC subscription refused');
    await this.refusals.record(stream.channel, reason);
    if (this.active && this.running) this.reopen(stream, this.refusedProbeMs);
  }

  private async subscribeFailed(stream: ChannelStream, generation: number, error: string): Promise<void> {
    if (generation !== stream.generation) return;
    const refusal = subscribeRefusal(stream.channel, error);
    if (refusal) {
      await this.refused(stream, refusal);
      return;
    }
    if (!isInvalidReplayError(error)) {
      this.fail(stream, generation, new Error(`CDC subscribe to ${stream.channel} refused: ${error}`));
      return;
    }
    // Whatever was received is read again by the next client; the position is read once it is settled.
    this.closeStream(stream);
    generation = stream.generation;
    await stream.chain;
    const stored = await this.readPosition(stream.channel).catch(() => null);
    if (!stored || stored.replayId === undefined || stored.replayId < 0) {
      this.fail(stream, generation, new Error(`CDC subscribe to ${stream.channel} refused: ${error}`));
      return;
    }
    // Our position is gone from the server: resume with new events and owe a poll over the hole
    // (from the watermark in the odd case that no commit time was ever stored).
    const since =
      stored.commitTimestamp === undefined
        ? undefined
        : Math.max(0, stored.commitTimestamp - RECONCILE_OVERLAP_MS);
    this.opts.logger.warn(
      { channel: stream.channel, replayId: stored.replayId, reconcileSince: since },
      'CDC replay id no longer available: resuming with new events and a reconciliation poll',
    );
    this.opts.metrics.events.inc({ source: CDC_SOURCE, outcome: 'replay_lost' });
    try {
      await this.fenced(stream.channel, {
        replayId: -1,
        ...(since === undefined ? {} : { reconcileSince: since }),
      });
      this.reopen(stream, 0);
    } catch (err2) {
      this.fail(stream, generation, err2);
    }
  }

  /**
   * Pays the poll a lost replay position owes. While no event has been stored since (replay id still
   * -1), a restart would again start with new events only, so the debt moves to this subscription's
   * start instead of being cleared: whatever happens while it is live but unrecorded gets polled too.
   */
  private async reconcile(channel: string, subscribedAt: number): Promise<void> {
    const { replayId, reconcileSince } = await this.readPosition(channel);
    for (const source of channelPollSources(channel))
      await enqueueReconciliationPoll(this.opts.queues, {
        crm: 'salesforce',
        source,
        ...(reconcileSince === undefined ? {} : { since: reconcileSince }),
      });
    if (replayId === -1)
      await this.fenced(channel, { reconcileSince: Math.max(0, subscribedAt - RECONCILE_OVERLAP_MS) });
    else await this.fenced(channel, {}, ['reconcileSince']);
  }

  private async handle(channel: string, message: unknown): Promise<void> {
    const { logger, metrics, queues } = this.opts;
    metrics.events.inc({ source: CDC_SOURCE, outcome: 'received' });
    const outcome = receiveCdcMessage(message, this.fieldMap, this.now());
    metrics.events.inc({ source: CDC_SOURCE, outcome: outcome.kind });
    switch (outcome.kind) {
      case 'invalid':
        logger.warn({ channel, reason: outcome.reason }, 'CDC message skipped');
        return;
      case 'skipped':
        logger.debug({ channel, reason: outcome.reason }, 'CDC message skipped');
        break;
      case 'deleted':
        logger.info({ channel, leads: outcome.leads.map((l) => l.id) }, 'CDC delete: nothing to score');
        break;
      case 'gap':
        logger.warn({ channel, poll: outcome.poll }, 'CDC gap event: reconciliation poll queued');
        await enqueueReconciliationPoll(queues, outcome.poll);
        break;
      case 'mapped':
        // Change events carry profile changes only, never an engagement event: no hand-raise to look for.
        if (outcome.job) await enqueueIngest(queues, outcome.job, []);
        break;
    }
    await this.storePosition(channel, outcome.position);
  }

  private async storePosition(channel: string, position: StreamPosition): Promise<void> {
    await this.fenced(channel, {
      replayId: position.replayId,
      ...(position.commitTimestamp === undefined ? {} : { commitTimestamp: position.commitTimestamp }),
    });
  }

  /** Sets and deletes fields of a channel's position, only while this process holds the lock. */
  private async fenced(channel: string, set: Record<string, number>, del: string[] = []): Promise<void> {
    if (!(await this.lease.writeHash(this.opts.keys.replayId(channel), set, del))) throw new LockLost();
  }

  private async readPosition(channel: string): Promise<StoredPosition> {
    const raw = await this.opts.redis.hgetall(this.opts.keys.replayId(channel));
    const parsed = StoredPosition.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.opts.logger.error(
      { channel, issues: parsed.error.issues },
      'stored CDC position unreadable: starting at -1',
    );
    return {};
  }
}

function noop(): void {}
