import type { Redis } from 'ioredis';
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

/**
 * Weighted fair queueing, atomic so any number of workers share one rotation. Each rep has a
 * virtual time; the candidate whose turn would finish first (vtime + 1/weight) wins, ties to the
 * earlier candidate, and its vtime moves to that finish. A rep with no vtime (new) starts one turn
 * behind the furthest-behind other rep, so fairness neither resets nor floods them. With `skip`, a
 * rep further behind than that (back from absence) is lifted there first; with `catch_up` they keep
 * their place and get the missed turns. The floor is one turn behind, not level: in plain rotation
 * the rep whose turn is next trails the others by exactly one turn and must not be lifted past it.
 * Reps at their daily or weekly cap are passed over and reported. A pick is remembered under the
 * caller's key (a handoff, or one of its reassignments): asked again, as by a retried job whose
 * first attempt died after picking, the same rep is returned without spending another turn, as
 * long as they are still a candidate.
 *
 * KEYS: turns hash, then per candidate its day and week counter hashes, then the pick key if any.
 * ARGV: catchUp, n, then per candidate: id, weight, daily cap, weekly cap (0 = none).
 */
const ASSIGN = `
local catchUp = ARGV[1]
local n = tonumber(ARGV[2])
local pickKey = KEYS[2 * n + 2]
local picked = pickKey and redis.call('GET', pickKey)
if picked then
  for i = 1, n do
    if ARGV[2 + (i - 1) * 4 + 1] == picked then return { picked, {} } end
  end
end
local ids, weights, caps, vtimes = {}, {}, {}, {}
for i = 1, n do
  local a = 2 + (i - 1) * 4
  ids[i] = ARGV[a + 1]
  weights[i] = tonumber(ARGV[a + 2])
  caps[i] = { tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]) }
  local v = redis.call('HGET', KEYS[1], ids[i])
  if v then vtimes[i] = tonumber(v) end
end
local full, best, bestFinish = {}, nil, nil
for i = 1, n do
  local day = tonumber(redis.call('HGET', KEYS[2 * i], ids[i]) or '0')
  local week = tonumber(redis.call('HGET', KEYS[2 * i + 1], ids[i]) or '0')
  if (caps[i][1] > 0 and day >= caps[i][1]) or (caps[i][2] > 0 and week >= caps[i][2]) then
    full[#full + 1] = ids[i]
  else
    local others = nil
    for j = 1, n do
      if j ~= i and vtimes[j] and (others == nil or vtimes[j] < others) then others = vtimes[j] end
    end
    local floor = others and (others - 1 / weights[i]) or 0
    local v = vtimes[i] or floor
    if catchUp == 'skip' and v < floor then v = floor end
    local finish = v + 1 / weights[i]
    if bestFinish == nil or finish < bestFinish - 1e-9 then best, bestFinish = i, finish end
  end
end
if best == nil then return { false, full } end
-- 17 digits round-trip a double, so reps on the same schedule stay exactly tied.
redis.call('HSET', KEYS[1], ids[best], string.format('%.17g', bestFinish))
redis.call('HINCRBY', KEYS[2 * best], ids[best], 1)
redis.call('PEXPIRE', KEYS[2 * best], 8 * 86400000)
redis.call('HINCRBY', KEYS[2 * best + 1], ids[best], 1)
redis.call('PEXPIRE', KEYS[2 * best + 1], 15 * 86400000)
if pickKey then redis.call('SET', pickKey, ids[best], 'PX', 15 * 86400000) end
return { ids[best], full }`;

type Scripted = Redis & {
  leadflowAssign(numKeys: number, ...args: (string | number)[]): Promise<[string | null, string[]]>;
};

/** Routing input; the account owner is looked up from the lead's email domain. */
export type RouteInput = Omit<PlanInput, 'accountOwnerId'> & {
  /** What this routing is for (a handoff or one of its reassignments): a retry gets the same reps. */
  pickKey?: string;
};

/** Round-robin turns, capacity counters and account owners in Redis; the rules themselves are pure. */
export class RoutingStore {
  private readonly redis: Scripted;

  constructor(
    redis: Redis,
    private readonly k: Keys,
  ) {
    const r = redis as Scripted;
    if (typeof r.leadflowAssign !== 'function') redis.defineCommand('leadflowAssign', { lua: ASSIGN });
    this.redis = r;
  }

  /**
   * Picks the rep whose turn it is in one pool (a routing rule) and counts the assignment; under
   * `pickKey` the same pick is returned again instead of spending another turn.
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
