import type { Routing } from '../config/schema.js';
import type { Profile } from '../domain/index.js';
import { emailDomain, planRouting, type Candidate, type DecisionInput } from './index.js';

/**
 * Pure once built: the worker's routing (lua/assign-rep.lua's weighted fair queueing, capacity caps,
 * account owners taken over by a round-robin pick) with its turns and counters in memory, so a
 * replay (simulate --compare) can ask who each handoff would go to, in handoff order, without Redis.
 */
export class MemoryRouting {
  /** Per pool (rule id), each rep's virtual time. */
  private readonly turns = new Map<string, Map<string, number>>();
  /** Per capacity period (`d:…`, `w:…`), each rep's assignments. */
  private readonly assigned = new Map<string, Map<string, number>>();
  private readonly accountOwners = new Map<string, string>();

  constructor(
    private readonly routing: Routing,
    private readonly defaultTimeZone: string,
  ) {}

  /** The owner the worker would pick for this lead at `now` (null: unassigned). */
  route(profile: Profile, now: number): string | null {
    const domain = emailDomain(profile.email);
    const accountOwnerId = domain ? (this.accountOwners.get(domain) ?? null) : null;
    const plan = planRouting({
      profile,
      routing: this.routing,
      accountOwnerId,
      now,
      exclude: [],
      defaultTimeZone: this.defaultTimeZone,
    });
    let chosen: DecisionInput['chosen'] = null;
    for (const step of plan.steps) {
      if (step.strategy !== 'round_robin') {
        chosen = { ruleId: step.ruleId, strategy: step.strategy, ownerId: step.ownerId };
        break;
      }
      const repId = this.assign(step.ruleId, step.candidates);
      if (repId) {
        chosen = { ruleId: step.ruleId, strategy: 'round_robin', ownerId: repId };
        break;
      }
    }
    // As RoutingStore.route: the pick takes over the company unless its owner is only out of office.
    const away = plan.skipped.some((s) => s.repId === accountOwnerId && s.why === 'out_of_office');
    if (domain && chosen?.strategy === 'round_robin' && !away) this.accountOwners.set(domain, chosen.ownerId);
    return chosen?.ownerId ?? null;
  }

  /** lua/assign-rep.lua, line for line (without the pick key: a replay never retries). */
  private assign(pool: string, candidates: readonly Candidate[]): string | null {
    let vtimes = this.turns.get(pool);
    if (!vtimes) this.turns.set(pool, (vtimes = new Map<string, number>()));
    const count = (period: string, id: string) => this.assigned.get(period)?.get(id) ?? 0;
    let best: Candidate | undefined;
    let bestFinish = 0;
    for (const c of candidates) {
      if ((c.daily && count(c.day, c.id) >= c.daily) || (c.weekly && count(c.week, c.id) >= c.weekly))
        continue;
      let others: number | undefined;
      for (const o of candidates) {
        const v = vtimes.get(o.id);
        if (o.id !== c.id && v !== undefined && (others === undefined || v < others)) others = v;
      }
      const floor = others !== undefined ? others - 1 / c.weight : 0;
      let v = vtimes.get(c.id) ?? floor;
      if (this.routing.catchUp === 'skip' && v < floor) v = floor;
      const finish = v + 1 / c.weight;
      if (best === undefined || finish < bestFinish - 1e-9) [best, bestFinish] = [c, finish];
    }
    if (!best) return null;
    vtimes.set(best.id, bestFinish);
    for (const period of [best.day, best.week]) {
      let counts = this.assigned.get(period);
      if (!counts) this.assigned.set(period, (counts = new Map<string, number>()));
      counts.set(best.id, count(period, best.id) + 1);
    }
    return best.id;
  }
}
