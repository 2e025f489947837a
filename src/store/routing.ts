import type { RedisClient } from './redis.js';
import type { Routing } from '../config/schema.js';
import type { RoutingDecision } from '../domain/index.js';
import {
  describeDecision,
  emailDomain,
  planRouting,
  type Candidate,
  type DecisionInput,
  type PlanInput,
} from '../routing/index.js';
import type { Keys } from './keys.js';
import { withScripts, type Scripted } from './scripts.js';

/** Routing input; the account owner is looked up from the lead's email domain. */
export type RouteInput = Omit<PlanInput, 'accountOwnerId'> & {
  /** What this routing is for (a handoff or one of its reassignments): a retry gets the same reps. */
  pickKey?: string;
};

/** Round-robin turns, capacity counters and account owners in Redis; the rules themselves are pure. */
export class RoutingStore {
  private readonly redis: Scripted;

  constructor(
    redis: RedisClient,
    private readonly k: Keys,
  ) {
    this.redis = withScripts(redis);
  }

  /**
   * Picks the rep whose turn it is in one pool (a routing rule) and counts the assignment; under
   * `pickKey` the same pick is returned again instead of spending another turn. The weighted fair
   * queueing that decides is lua/assign-rep.lua.
   */
  async assign(
    pool: string,
    candidates: readonly Candidate[],
    catchUp: Routing['catchUp'],
    pickKey?: string,
  ): Promise<{ repId: string | null; atCapacity: string[] }> {
    const keys = [
      this.k.routingTurns(pool),
      ...candidates.flatMap((c) => [this.k.repAssigned(c.day), this.k.repAssigned(c.week)]),
      ...(pickKey ? [this.k.routingPick(`${pickKey}:${pool}`)] : []),
    ];
    const args = candidates.flatMap((c) => [c.id, c.weight, c.daily ?? 0, c.weekly ?? 0]);
    const [repId, atCapacity] = await this.redis.leadflowAssign(
      keys.length,
      ...keys,
      catchUp,
      candidates.length,
      ...args,
    );
    return { repId: repId || null, atCapacity };
  }

  async accountOwner(domain: string): Promise<string | null> {
    return this.redis.hget(this.k.accountOwners, domain);
  }

  async rememberAccountOwner(domain: string, ownerId: string): Promise<void> {
    await this.redis.hset(this.k.accountOwners, domain, ownerId);
  }

  /** Walks the plan: the first account owner, round-robin pick or fallback owner wins. */
  async route(input: RouteInput): Promise<RoutingDecision> {
    const domain = emailDomain(input.profile.email);
    const accountOwnerId = domain ? await this.accountOwner(domain) : null;
    const plan = planRouting({ ...input, accountOwnerId });
    const atCapacity: RoutingDecision['skipped'] = [];
    let chosen: DecisionInput['chosen'] = null;
    for (const step of plan.steps) {
      if (step.strategy !== 'round_robin') {
        chosen = { ruleId: step.ruleId, strategy: step.strategy, ownerId: step.ownerId };
        break;
      }
      const { repId, atCapacity: full } = await this.assign(
        step.ruleId,
        step.candidates,
        input.routing.catchUp,
        input.pickKey,
      );
      for (const id of full) atCapacity.push({ repId: id, ruleId: step.ruleId, why: 'at_capacity' });
      if (repId) {
        chosen = { ruleId: step.ruleId, strategy: 'round_robin', ownerId: repId };
        break;
      }
    }
    // The round-robin pick takes over the company, unless its owner is only out of office for now.
    const away = plan.skipped.some((s) => s.repId === accountOwnerId && s.why === 'out_of_office');
    if (domain && chosen?.strategy === 'round_robin' && !away)
      await this.rememberAccountOwner(domain, chosen.ownerId);
    return describeDecision({ routing: input.routing, plan, chosen, atCapacity, domain });
  }
}
