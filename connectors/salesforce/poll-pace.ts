import type { Salesforce } from '../../src/config/schema.js';
import { usedShare, type Usage } from '../../src/store/api-usage.js';

/** How fast the poller may read, given the org's daily API usage. Pure. */

export type PollPace = 'full' | 'slow' | 'stopped';

/**
 * A reading this old no longer stops polling on its own: with polling stopped and no handoffs, no
 * answer would ever refresh it. A slowed page brings a fresh one.
 */
export const USAGE_STALE_MS = 15 * 60_000;

/**
 * Pure: how much a poll may read given the org's daily API usage. From `stopAt` nothing (the rest
 * is for handoffs), from `slowAt` one page per run (it keeps up slowly), below that every page.
 */
export function pollPace(usage: Usage | null, limits: Salesforce['dailyUsage'], now: number): PollPace {
  const share = usedShare(usage);
  if (usage && share >= limits.stopAt) return now - usage.at < USAGE_STALE_MS ? 'stopped' : 'slow';
  if (share >= limits.slowAt) return 'slow';
  return 'full';
}
