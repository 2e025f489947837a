import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

// Only forward: a slow poll finishing after a newer one must not move the watermark back.
const ADVANCE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0`;

type Scripted = Redis & { leadflowAdvanceWatermark(key: string, value: number): Promise<number> };

/** How far each poller has read (ms). */
export class Watermarks {
  private readonly redis: Scripted;

  constructor(
    redis: Redis,
    private readonly k: Keys,
  ) {
    const r = redis as Scripted;
    if (typeof r.leadflowAdvanceWatermark !== 'function')
      redis.defineCommand('leadflowAdvanceWatermark', { numberOfKeys: 1, lua: ADVANCE });
    this.redis = r;
  }

  async get(poller: string): Promise<number | null> {
    const raw = await this.redis.get(this.k.watermark(poller));
    return raw === null ? null : Number(raw);
  }

  async advance(poller: string, to: number): Promise<void> {
    await this.redis.leadflowAdvanceWatermark(this.k.watermark(poller), to);
  }
}
