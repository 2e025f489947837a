import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis.js';

/*
 * Every Lua script leadflow runs, one file each under ./lua (the build copies them next to the
 * compiled module). A line `-- @include name` is replaced by ./lua/includes/name.lua, so shared
 * snippets are written once. Sources are read once, at import: a missing file fails at startup,
 * not on the first call.
 */

/** The commands the scripts become on a connection, as the stores call them. */
export interface ScriptCommands {
  leadflowRecordEvent(
    dedupe: string,
    timeline: string,
    ttlMs: number,
    line: string,
    timelineTtlMs: number,
  ): Promise<number>;
  leadflowAddTimelineLines(timeline: string, ttlMs: number, ...lines: string[]): Promise<number>;
  leadflowTrimTimeline(timeline: string, history: string, before: number, ttlMs: number): Promise<number>;
  leadflowMigrateTimeline(
    timeline: string,
    ttlMs: number,
    members: number,
    ...lines: string[]
  ): Promise<number>;
  leadflowRecordProfile(
    dedupe: string,
    profile: string,
    ttlMs: number,
    field: string,
    at: number,
    value: string,
    profileTtlMs: number,
  ): Promise<number>;
  leadflowMergeFetched(
    profile: string,
    fetchedAt: number,
    ttlMs: number,
    ...fieldValuePairs: string[]
  ): Promise<number>;
  leadflowFoldHistory(
    timeline: string,
    history: string,
    ttlMs: number,
    lines: number,
    ...linesThenBuckets: (string | number)[]
  ): Promise<number>;
  leadflowBudgetReserve(
    list: string,
    sent: string,
    pause: string,
    max: number,
    pacingMs: number,
    intervalMs: number,
    id: string,
    leaseMs: number,
    pollMs: number,
  ): Promise<number>;
  leadflowBudgetConfirm(
    sent: string,
    pause: string,
    max: number,
    intervalMs: number,
    id: string,
    leaseMs: number,
    pollMs: number,
  ): Promise<number>;
  leadflowBudgetRelease(sent: string, id: string): Promise<number>;
  leadflowBudgetPause(pause: string, ms: number): Promise<number>;
  leadflowBudgetObserve(key: string, max: number, intervalMs: number, remaining: number): Promise<number>;
  leadflowPutLead(
    state: string,
    scores: string,
    scoreCounts: string,
    expectedVersion: number,
    json: string,
    total: string,
    member: string,
    ttlMs: number,
  ): Promise<number>;
  leadflowForgetLead(state: string, scores: string, scoreCounts: string, member: string): Promise<number>;
  leadflowAdvanceWatermark(key: string, value: number): Promise<number>;
  leadflowMarkProgress(
    progress: string,
    field: string,
    value: string,
    onlyIfUnset: '0' | '1',
    ttlMs: number,
  ): Promise<number>;
  leadflowClearPending(key: string, ...fieldVersionPairs: string[]): Promise<number>;
  /** The key count comes first: it depends on the number of candidates. */
  leadflowAssign(numKeys: number, ...keysThenArgs: (string | number)[]): Promise<[string | null, string[]]>;
  leadflowLeaseWrite(
    lease: string,
    hash: string,
    token: string,
    setLength: number,
    ...pairsThenDeletes: (string | number)[]
  ): Promise<number>;
  leadflowLeaseRenew(lease: string, token: string, ttlMs: number): Promise<number>;
  leadflowLeaseRelease(lease: string, token: string): Promise<number>;
  leadflowNow(clock: string): Promise<number>;
  leadflowReachAdmit(
    down: string,
    probe: string,
    misses: string,
    credentials: string,
    credentialsProbe: string,
    probeMs: number,
    credentialsProbeMs: number,
    afterRefresh: '0' | '1',
  ): Promise<[number, number]>;
  leadflowReachAnswered(misses: string, down: string, probe: string): Promise<number>;
  leadflowReachMissed(
    misses: string,
    down: string,
    after: number,
    windowMs: number,
    holdMs: number,
    reason: string,
    leads: number,
  ): Promise<number>;
}

export type ScriptName = keyof ScriptCommands;

interface ScriptFile {
  /** ./lua/<file>.lua */
  file: string;
  /** Absent when the caller passes the key count first (a variable number of keys). */
  numberOfKeys?: number;
}

/** Which file each command runs and how many of its arguments are keys. */
export const SCRIPT_FILES = {
  leadflowRecordEvent: { file: 'record-event', numberOfKeys: 2 },
  leadflowRecordProfile: { file: 'record-profile', numberOfKeys: 2 },
  leadflowMergeFetched: { file: 'merge-fetched', numberOfKeys: 1 },
  leadflowFoldHistory: { file: 'fold-history', numberOfKeys: 2 },
  leadflowAddTimelineLines: { file: 'add-timeline-lines', numberOfKeys: 1 },
  leadflowTrimTimeline: { file: 'trim-timeline', numberOfKeys: 2 },
  leadflowMigrateTimeline: { file: 'migrate-timeline', numberOfKeys: 1 },
  leadflowBudgetReserve: { file: 'budget-reserve', numberOfKeys: 3 },
  leadflowBudgetConfirm: { file: 'budget-confirm', numberOfKeys: 2 },
  leadflowBudgetRelease: { file: 'budget-release', numberOfKeys: 1 },
  leadflowBudgetPause: { file: 'budget-pause', numberOfKeys: 1 },
  leadflowBudgetObserve: { file: 'budget-observe', numberOfKeys: 1 },
  leadflowPutLead: { file: 'put-lead', numberOfKeys: 3 },
  leadflowForgetLead: { file: 'forget-lead', numberOfKeys: 3 },
  leadflowAdvanceWatermark: { file: 'advance-watermark', numberOfKeys: 1 },
  leadflowMarkProgress: { file: 'mark-progress', numberOfKeys: 1 },
  leadflowClearPending: { file: 'clear-pending-scores', numberOfKeys: 1 },
  leadflowAssign: { file: 'assign-rep' },
  leadflowLeaseWrite: { file: 'lease-write', numberOfKeys: 2 },
  leadflowLeaseRenew: { file: 'lease-renew', numberOfKeys: 1 },
  leadflowLeaseRelease: { file: 'lease-release', numberOfKeys: 1 },
  leadflowNow: { file: 'now', numberOfKeys: 1 },
  leadflowReachAdmit: { file: 'reach-admit', numberOfKeys: 5 },
  leadflowReachAnswered: { file: 'reach-answered', numberOfKeys: 3 },
  leadflowReachMissed: { file: 'reach-missed', numberOfKeys: 2 },
} as const satisfies Record<ScriptName, ScriptFile>;

function readLua(path: string): string {
  return readFileSync(new URL(`./lua/${path}.lua`, import.meta.url), 'utf8');
}

const INCLUDE = /^-- @include ([\w-]+)$/gm;

/** A script's source with its includes expanded. */
export function loadScript(file: string): string {
  return readLua(file).replace(INCLUDE, (_, name: string) => readLua(`includes/${name}`).trimEnd());
}

interface Script {
  lua: string;
  numberOfKeys?: number;
}

/** Every command's source, read once. */
export const SCRIPTS = Object.fromEntries(
  Object.entries(SCRIPT_FILES).map(([name, def]: [string, ScriptFile]) => [
    name,
    { lua: loadScript(def.file), numberOfKeys: def.numberOfKeys },
  ]),
) as Record<ScriptName, Script>;

export type Scripted = RedisClient & ScriptCommands;

const defined = new WeakSet<RedisClient>();

/** The connection with every script defined on it (once per connection). */
export function withScripts(redis: RedisClient): Scripted {
  if (!defined.has(redis)) {
    for (const [name, script] of Object.entries(SCRIPTS)) redis.defineCommand(name, script);
    defined.add(redis);
  }
  return redis as Scripted;
}
