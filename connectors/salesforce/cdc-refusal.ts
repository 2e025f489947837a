import type { RedisClient } from '../../src/store/redis.js';
import { z } from 'zod';
import type { Logger } from '../../src/logger.js';
import type { Metrics } from '../../src/metrics.js';

/** A refused CDC subscribe: what it means (for good, replay id lost, or reconnect) and where it shows. */

/**
 * Pure: a subscribe refused for good — a 403, as when the user lacks View All Records on the
 * channel's object (View All Data for all of them) — with what the admin must grant.
 */
export function subscribeRefusal(channel: string, error: string): string | undefined {
  // A client the server timed out (or a refused handshake) is a session matter: reconnect, as before.
  if (!/^403:/.test(error) || /unknown client|handshake/i.test(error)) return undefined;
  const object = /^\/data\/(\w+?)(__)?ChangeEvent$/.exec(channel);
  const needs = object
    ? `View All Records on ${object[2] ? `${object[1]}__c` : object[1]} (or View All Data)`
    : 'View All Data';
  return `Salesforce refused the subscription to ${channel} (${error}): the integration user needs ${needs}`;
}

/**
 * Pure: a subscribe error meaning the server no longer has (or never had) the replay id we asked
 * for: `400::The replayId {N} you provided was invalid...`, also worded as too old or not found.
 */
export function isInvalidReplayError(error: string): boolean {
  return /^400:/.test(error) && /replay ?id/i.test(error);
}

const SubscribeRefused = z.object({
  channel: z.literal('/meta/subscribe'),
  successful: z.literal(false),
  subscription: z.string(),
  error: z.string().default(''),
});

/**
 * A faye extension reporting every refused subscribe to `channel`. faye resubscribes by itself after
 * a new handshake, with the last replay id received; a refusal of those would go unnoticed by the
 * subscription's own errback.
 */
export function refusalWatch(channel: string, onRefused: (error: string) => void) {
  return {
    incoming: (message: unknown, callback: (message: unknown) => void) => {
      const reply = SubscribeRefused.safeParse(message);
      if (reply.success && reply.data.subscription === channel) onRefused(reply.data.error);
      callback(message);
    },
  };
}

/**
 * A refusal for good, where it shows: the `cdcRefused` metric and a Redis hash /readyz reads (kept
 * `ttlMs`, so it outlives the next probe). A subscription that went through is no refusal any more.
 */
export class RefusalRecord {
  constructor(
    private readonly opts: {
      redis: RedisClient;
      key: string;
      ttlMs: number;
      logger: Logger;
      metrics: Metrics;
    },
  ) {}

  async record(channel: string, reason: string): Promise<void> {
    this.opts.metrics.cdcRefused.set({ channel }, 1);
    try {
      await this.opts.redis
        .multi()
        .hset(this.opts.key, channel, reason)
        .pexpire(this.opts.key, this.opts.ttlMs)
        .exec();
    } catch (err) {
      this.opts.logger.error({ err, channel }, 'could not record the CDC refusal');
    }
  }

  async clear(channel: string): Promise<void> {
    this.opts.metrics.cdcRefused.set({ channel }, 0);
    await this.opts.redis
      .hdel(this.opts.key, channel)
      .catch((err: unknown) => this.opts.logger.warn({ err, channel }, 'could not clear the CDC refusal'));
  }
}
