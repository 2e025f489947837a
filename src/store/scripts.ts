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
  leadflowRecordLine(
    dedupe: string,
    record: string,
    earlierTimeline: string,
    earlierProfile: string,
    dedupeTtlMs: number,
    line: string,
    ttlMs: number,
  ): Promise<number>;
  leadflowAppendLine(
    record: string,
    earlierTimeline: string,
    earlierProfile: string,
    line: string,
    ttlMs: number,
  ): Promise<number>;
  leadflowWriteLead(
    record: string,
    scores: string,
    scoreCounts: string,
    earlierTimeline: string,
    earlierProfile: string,
    history: string,
    generation: string,
    length: number,
    earlier: Buffer | string,
    total: string,
    block: Buffer,
    ttlMs: number,
    member: string,
    index: '0' | '1',
    dropHistoryBefore: number | '',
    ...buckets: (string | number)[]
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
  leadflowForgetLead(
    record: string,
    scores: string,
    scoreCounts: string,
    earlierTimeline: string,
    earlierProfile: string,
    history: string,
    member: string,
  ): Promise<number>;
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
  leadflowAuditRollup(
    lease: string,
    days: string,
    stream: string,
    token: string,
    keepFromId: string,
    ...dayCounterPairs: string[]
  ): Promise<number>;
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
  leadflowRecordLine: { file: 'record-line', numberOfKeys: 4 },
  leadflowAppendLine: { file: 'append-line', numberOfKeys: 3 },
  leadflowWriteLead: { file: 'write-lead', numberOfKeys: 6 },
  leadflowBudgetReserve: { file: 'budget-reserve', numberOfKeys: 3 },
  leadflowBudgetConfirm: { file: 'budget-confirm', numberOfKeys: 2 },
  leadflowBudgetRelease: { file: 'budget-release', numberOfKeys: 1 },
  leadflowBudgetPause: { file: 'budget-pause', numberOfKeys: 1 },
  leadflowBudgetObserve: { file: 'budget-observe', numberOfKeys: 1 },
  leadflowForgetLead: { file: 'forget-lead', numberOfKeys: 6 },
  leadflowAdvanceWatermark: { file: 'advance-watermark', numberOfKeys: 1 },
  leadflowMarkProgress: { file: 'mark-progress', numberOfKeys: 1 },
  leadflowClearPending: { file: 'clear-pending-scores', numberOfKeys: 1 },
  leadflowAssign: { file: 'assign-rep' },
  leadflowLeaseWrite: { file: 'lease-write', numberOfKeys: 2 },
  leadflowLeaseRenew: { file: 'lease-renew', numberOfKeys: 1 },
  leadflowLeaseRelease: { file: 'lease-release', numberOfKeys: 1 },
  leadflowNow: { file: 'now', numberOfKeys: 1 },
  leadflowAuditRollup: { file: 'audit-rollup', numberOfKeys: 3 },
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
