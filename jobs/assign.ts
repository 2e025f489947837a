import { connectorFor, handoffCrm, type JobContext } from '../src/queue/context.js';
import {
  leadKey,
  slaKind,
  type Handoff,
  type LeadRef,
  type Profile,
  type RoutingDecision,
} from '../src/domain/index.js';
import type { AccountContext } from '../src/handoff/brief.js';
import { personName } from '../src/handoff/brief.js';
import { addWorkingMinutes } from '../src/handoff/sla.js';
import { emailDomain } from '../src/routing/index.js';
import { RoutingStore } from '../src/store/routing.js';

/**
 * Picks the owner of a lead. A lead the CRM already gives to an active owner stays with them (we
 * never take a lead from a rep); otherwise the routing rules decide. Only owners the CRM lists as
 * active are returned: an unknown or deactivated one is reported and the lead falls to the next
 * choice.
 */
export async function assignOwner(
  ctx: JobContext,
  lead: LeadRef,
  profile: Profile,
  exclude: string[],
  /** What the owner is for (a handoff id, or one of its reassignments): a retry gets the same rep. */
  pickKey: string,
): Promise<RoutingDecision> {
  const crm = handoffCrm(ctx, lead);
  const owners = await connectorFor(ctx, crm).owners();
  const status = (id: string) => {
    const owner = owners.find((o) => o.id === id);
    return !owner ? 'unknown' : owner.active ? 'active' : 'deactivated';
  };
  const store = new RoutingStore(ctx.redis, ctx.keys);
  // An owner id from the other CRM of a cross-CRM setup means nothing in the sales CRM.
  const current = crm === lead.crm && typeof profile.ownerId === 'string' ? profile.ownerId : '';
  if (current && !exclude.includes(current) && status(current) === 'active') {
    // Their colleagues from the same company go to them too (account-owner rules).
    const domain = emailDomain(profile.email);
    if (domain) await store.rememberAccountOwner(domain, current);
    return {
      ownerId: current,
      ruleId: 'existing-owner',
      strategy: 'account_owner',
      reason: `already owned by ${repName(ctx, current)} in the CRM`,
      skipped: [],
    };
  }

  const rejected: string[] = [];
  for (;;) {
    const decision = await store.route({
      profile,
      routing: ctx.config.routing,
      now: ctx.now(),
      exclude: [...exclude, ...rejected],
      defaultTimeZone: ctx.config.sla.workingHours.timeZone,
      pickKey,
    });
    if (!decision.ownerId) return decision;
    // Exclusion does not apply to the fallback owner: stop rather than loop on it.
    if (rejected.includes(decision.ownerId))
      return {
        ...decision,
        ownerId: null,
        strategy: 'none',
        reason: `${decision.reason}; not usable in the CRM`,
      };
    const why = status(decision.ownerId);
    if (why === 'active') return decision;
    // Reported, never written; the next choice gets the lead.
    rejected.push(decision.ownerId);
    ctx.metrics.ownersRejected.inc({ why });
    ctx.logger.warn(
      { lead: leadKey(lead), ownerId: decision.ownerId, why },
      'routed owner not usable in the CRM',
    );
    await ctx.handoffs.audit({
      type: 'owner_invalid',
      lead: leadKey(lead),
      detail: { ownerId: decision.ownerId, why, ruleId: decision.ruleId },
      at: ctx.now(),
    });
  }
}

function repName(ctx: JobContext, id: string): string {
  return ctx.config.routing.reps.find((r) => r.id === id)?.name ?? `owner ${id}`;
}

/**
 * When the rep must have acted: the SLA minutes for the trigger (a hand-raise the guardrails made
 * standard runs on the threshold's), counted in the rep's working hours.
 */
export function slaDueAt(
  ctx: JobContext,
  handoff: Pick<Handoff, 'trigger' | 'urgency'>,
  ownerId: string | null,
  from: number,
): number {
  const { sla, routing } = ctx.config;
  const hours = routing.reps.find((r) => r.id === ownerId)?.workingHours ?? sla.workingHours;
  return addWorkingMinutes(from, sla.minutes[slaKind(handoff)], hours);
}

/** Others listed by name in a handoff's account context; the rest are counted. */
const ACCOUNT_CONTACTS_LISTED = 5;

/**
 * Who else we know at the lead's company (same email domain): name, title, our stage and their CRM
 * owner, and who owns the account in our routing. None for a free mailbox or no email.
 */
export async function accountContext(
  ctx: JobContext,
  lead: LeadRef,
  profile: Profile,
): Promise<AccountContext | undefined> {
  const domain = emailDomain(profile.email);
  if (!domain) return undefined;
  const store = new RoutingStore(ctx.redis, ctx.keys);
  const [{ leads, total }, accountOwner] = await Promise.all([
    ctx.accounts.others(domain, lead, ACCOUNT_CONTACTS_LISTED),
    store.accountOwner(domain),
  ]);
  const contacts = await Promise.all(
    leads.map(async (other) => {
      const [{ profile: theirs }, state] = await Promise.all([
        ctx.timeline.profile(other),
        ctx.leads.get(other),
      ]);
      const ownerId = typeof theirs.ownerId === 'string' ? theirs.ownerId : undefined;
      return {
        name: personName(theirs) || (typeof theirs.email === 'string' ? theirs.email : leadKey(other)),
        title: typeof theirs.jobTitle === 'string' ? theirs.jobTitle : undefined,
        stage: state.stage === 'lead' ? undefined : state.stage.toUpperCase(),
        ownerName: ownerId ? repName(ctx, ownerId) : undefined,
      };
    }),
  );
  return {
    domain,
    ownerName: accountOwner ? repName(ctx, accountOwner) : undefined,
    contacts,
    more: total - contacts.length,
  };
}
