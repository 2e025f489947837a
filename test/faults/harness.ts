import { expect } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import type { Sandbox } from '../sandbox/index.js';
import { startSystem, type System, type SystemOptions } from '../system/index.js';

/** Known leads with a profile and a stage, so a demo request is one handoff each. */
export function leads(n: number, from = 1): { id: string; properties: Record<string, string> }[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(from + i),
    properties: {
      firstname: `F${from + i}`,
      jobtitle: 'VP Marketing',
      lifecyclestage: 'lead',
      country: 'Canada',
    },
  }));
}

/** The shipped config with the knobs a fault test needs: short job locks and CRM timeouts. */
export function faultConfig(
  hubspot: Partial<Config['hubspot']> = {},
  pipeline: Partial<Config['pipeline']> = {},
): (config: Config) => Config {
  return (base) => ({
    ...base,
    hubspot: { ...base.hubspot, requestsPer10s: 10_000, timeoutMs: 1_000, ...hubspot },
    pipeline: { ...base.pipeline, jobLockMs: 2_000, ...pipeline },
  });
}

/** The system under a fault test's own prefix, on the test Redis unless `redisUrl` names another. */
export function faultSystem(
  redisUrl: string,
  opts: Omit<SystemOptions, 'redisUrl' | 'prefix'>,
): Promise<System> {
  return startSystem({
    sandbox: { latencyMs: 10 },
    adjust: faultConfig(),
    ...opts,
    redisUrl,
    prefix: uniquePrefix('faults'),
  });
}

/** How many notes (or tasks) each lead has in the sandbox CRM. */
export function notesPerLead(sandbox: Sandbox, kind: 'notes' | 'tasks' = 'notes'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const object of sandbox.hubspot[kind]) {
    const id = object.associations[0]?.to.id ?? '?';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Every lead ends with exactly one note and one rep task: nothing lost, nothing written twice. */
export async function expectOneNoteAndTaskEach(
  sandbox: Sandbox,
  ids: string[],
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(() => notesPerLead(sandbox, 'tasks').size === ids.length, { what: 'every task', timeoutMs });
  // Late duplicates would show up now.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const kind of ['notes', 'tasks'] as const) {
    const counts = notesPerLead(sandbox, kind);
    expect([...counts.keys()].sort(), kind).toEqual([...ids].sort());
    expect(
      [...counts.values()].every((n) => n === 1),
      kind,
    ).toBe(true);
  }
}
