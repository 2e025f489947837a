import type { RedisClient } from './redis.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

/** How far each poller has read (ms). */
export class Watermarks {
  private readonly redis: Scripted;

  constructor(
    redis: RedisClient,
    private readonly k: Keys,
  ) {
    this.redis = withScripts(redis);
  }

  async get(poller: string): Promise<number | null> {
    const raw = await this.redis.get(this.k.watermark(poller));
    return raw === null ? null : Number(raw);
  }

  async advance(poller: string, to: number): Promise<void> {
    await this.redis.leadflowAdvanceWatermark(this.k.watermark(poller), to);
  }
}
