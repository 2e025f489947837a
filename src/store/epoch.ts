import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis.js';
import type { Keys } from './keys.js';

/** What one look at the epoch key found. */
export type EpochCheck = 'first_start' | 'same' | 'lost';

/** The data loss being recovered from, as stored under `keys.dataLoss`. */
export interface DataLoss {
  /** The epoch written after the loss. */
  epoch: string;
  detectedAt: number;
}

export interface EpochWatchOptions {
  /** How long lost records are looked up in the CRM after a loss. */
  recoveryMs: number;
  checkEveryMs: number;
  /** After each check: whether it found the loss now, and whether one is being recovered from. */
  onCheck(found: EpochCheck, recovering: boolean): void;
  /** A check that could not run (Redis away); the reconnect that follows checks again. */
  onError(err: Error): void;
}

/** How often a cluster node that went away is asked again, until it answers. */
const NODE_RETRY_MS = 500;

/**
 * Detects that Redis lost its data (a restart without persistence, a flush, a failover to an empty
 * replica): the epoch key is written once, and a process that saw it and later finds it gone, or
 * replaced, knows every idempotency record may be gone with it. It then records the loss for
 * `recoveryMs`, so every process looks up what it would create in the CRM first (`recordsMayBeLost`).
 * A loss while no process was connected looks like a first start: nothing remembers the old epoch.
 */
export class EpochWatch {
  private seen: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private awaitingNode = false;
  private readonly onReady = () => void this.checkLogged();
  /**
   * A cluster stays 'ready' while one of its nodes restarts, and its client reconnects to the node
   * only when a command needs it: so when a node goes away, check until it answers again.
   */
  private readonly onNodeLost = () => void this.checkWhenBack();

  constructor(
    private readonly redis: RedisClient,
    private readonly k: Keys,
    private readonly opts: EpochWatchOptions,
  ) {}

  /** Checks now, then on every reconnect (of a server, or to a cluster node) and every `checkEveryMs`. */
  async start(): Promise<EpochCheck> {
    const found = await this.check();
    this.redis.on('ready', this.onReady);
    this.redis.on('-node', this.onNodeLost);
    this.timer = setInterval(this.onReady, this.opts.checkEveryMs);
    this.timer.unref();
    return found;
  }

  stop(): void {
    this.stopped = true;
    this.redis.off('ready', this.onReady);
    this.redis.off('-node', this.onNodeLost);
    clearInterval(this.timer);
  }

  async check(): Promise<EpochCheck> {
    const { redis, k } = this;
    const created = (await redis.set(k.epoch, randomUUID(), 'NX')) === 'OK';
    const current = await redis.get(k.epoch);
    const previous = this.seen;
    if (current) this.seen = current;
    const lost = previous !== undefined && current !== null && current !== previous;
    if (lost) {
      const loss: DataLoss = { epoch: current, detectedAt: Date.now() };
      // NX: the first process to notice starts the window; the others' later look does not prolong it.
      await redis.set(k.dataLoss, JSON.stringify(loss), 'PX', this.opts.recoveryMs, 'NX');
    }
    const found: EpochCheck = lost ? 'lost' : created && previous === undefined ? 'first_start' : 'same';
    this.opts.onCheck(found, lost || (await recordsMayBeLost(redis, k)));
    return found;
  }

  private async checkWhenBack(): Promise<void> {
    if (this.awaitingNode) return;
    this.awaitingNode = true;
    while (!this.stopped) {
      try {
        await this.check();
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, NODE_RETRY_MS).unref());
      }
    }
    this.awaitingNode = false;
  }

  private async checkLogged(): Promise<void> {
    await this.check().catch((err: unknown) => this.opts.onError(err as Error));
  }
}

/** True while a detected data loss is being recovered from. */
export async function recordsMayBeLost(redis: RedisClient, k: Keys): Promise<boolean> {
  return (await redis.exists(k.dataLoss)) === 1;
}
