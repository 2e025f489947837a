import { leadKey, type LeadRef } from '../src/domain/index.js';
import { connectorFor, handoffCrm, type JobContext } from '../src/queue/context.js';
import { PermanentJobError } from '../src/queue/errors.js';

/**
 * The record a lead's handoff is written to: the lead itself (or what sales converted it into),
 * or, when marketing runs on one CRM and sales on the other, the sales CRM's record of the same
 * person, matched by email once (and created there when `crossCrm.createMissing`), then linked
 * both ways.
 */
export async function salesRecord(ctx: JobContext, lead: LeadRef): Promise<LeadRef> {
  const crm = handoffCrm(ctx, lead);
  // A record sales converted lives on as what it became (a Salesforce Lead as its Contact).
  if (crm === lead.crm) return (await ctx.links.convertedTo(lead)) ?? lead;
  const linked = await ctx.links.salesRecordOf(lead);
  if (linked) return linked;
  const { profile } = await ctx.timeline.profile(lead);
  const found = await connectorFor(ctx, crm).matchLead(profile, ctx.config.crossCrm?.createMissing ?? false);
  if (!found)
    throw new PermanentJobError(
      `no ${crm} record has the email of ${leadKey(lead)}` +
        (profile.email ? '' : ' (the lead has no email)') +
        '; set crossCrm.createMissing to create one',
    );
  await ctx.links.link(lead, found);
  ctx.logger.info({ lead: leadKey(lead), salesRecord: leadKey(found) }, 'matched in the sales CRM by email');
  return found;
}
