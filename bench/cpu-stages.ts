/**
 * Where a benchmark's CPU goes, per pipeline stage: a V8 CPU profile of this process (sampled every
 * millisecond) with each sample charged to the innermost frame of a stage's own code on its stack —
 * http receive (src/http, src/receive), ingest, score, writeback (their jobs/ files) — and, when no
 * such frame is on it (code resumed after an await starts a fresh stack), to the library it is in:
 * the CRM connectors, the store, BullMQ, the Redis client, the sandbox, the garbage collector. V8
 * spaces samples by the clock, and a loaded machine takes the CPU away between them: each bucket's
 * share of the samples is applied to the CPU the process measured (process.cpuUsage).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** Stage code, matched first anywhere on the stack (innermost first). */
const STAGES: [bucket: string, pattern: RegExp][] = [
  ['http receive', /\/src\/(http|receive)\//],
  ['ingest', /\/jobs\/ingest\.ts/],
  ['score', /\/jobs\/(score|assign)\.ts|\/src\/(scoring|handoff|routing)\//],
  ['writeback', /\/jobs\/(writeback|followup|alert|target)\.ts/],
  ['sandbox', /\/test\/sandbox\//],
  ['bench', /\/bench\/|\/test\/system\//],
];
/** Then where the innermost frame's code lives. */
const LIBRARIES: [bucket: string, pattern: RegExp][] = [
  ['CRM connectors (+ SDK)', /\/connectors\/|node_modules\/(@hubspot|node-fetch|jsforce)/],
  ['store (Redis state)', /\/src\/store\//],
  ['BullMQ', /node_modules\/bullmq/],
  ['Redis client', /node_modules\/(ioredis|redis-parser|cluster-key-slot)/],
  ['http server (express)', /node_modules\/(express|body-parser|raw-body|router)|node:_http/],
];

export interface CpuProfiler {
  /** CPU ms per handoff by bucket, of `cpuMicros` the process used meanwhile. */
  stop(handoffs: number, cpuMicros: number): Promise<Record<string, number>>;
}

export async function startCpuProfile(): Promise<CpuProfiler> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1_000 });
  await session.post('Profiler.start');
  return {
    async stop(handoffs, cpuMicros) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      // For a closer look (Chrome DevTools, or by function): CPU_PROFILE=<file> keeps the last profile.
      if (process.env.CPU_PROFILE) writeFileSync(process.env.CPU_PROFILE, JSON.stringify(profile));
      const nodes = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
      const parent = new Map<number, number>();
      for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
      const bucketOf = new Map<number, string>();
      const classify = (id: number): string => {
        const known = bucketOf.get(id);
        if (known) return known;
        const stack: ProfileNode[] = [];
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
          stack.push(nodes.get(at)!);
        const leaf = stack[0]!.callFrame;
        const bucket =
          (leaf.functionName.startsWith('(') && leaf.functionName !== '(anonymous)'
            ? leaf.functionName
            : undefined) ??
          stack.map((n) => STAGES.find(([, p]) => p.test(n.callFrame.url))?.[0]).find(Boolean) ??
          LIBRARIES.find(([, p]) => p.test(leaf.url))?.[0] ??
          'other';
        bucketOf.set(id, bucket);
        return bucket;
      };
      const micros: Record<string, number> = {};
      profile.samples?.forEach((id, i) => {
        const bucket = classify(id);
        micros[bucket] = (micros[bucket] ?? 0) + (profile.timeDeltas?.[i] ?? 0);
      });
      delete micros['(idle)'];
      const sampled = Object.values(micros).reduce((a, b) => a + b, 0);
      const msPerHandoff = (us: number) => ((us / sampled) * cpuMicros) / 1000 / Math.max(1, handoffs);
      return Object.fromEntries(
        Object.entries(micros)
          .sort(([, a], [, b]) => b - a)
          .map(([bucket, us]) => [bucket, Number(msPerHandoff(us).toFixed(2))]),
      );
    },
  };
}
