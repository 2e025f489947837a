import { z } from 'zod';
import type { LeadRef } from '../../src/domain/index.js';
import { CrmError } from '../errors.js';
import type { DispositionWrite } from '../types.js';
import { unsubscribeAllPath } from './reads.js';
import { HubSpotBatches } from './batches.js';

/**
 * Sales' verdict on a contact written back: recycled to marketing, disqualified, unmarketed (opted
 * out of all email through v4 communication preferences) or flagged as bad data.
 */
export abstract class HubSpotDispositions extends HubSpotBatches {
  async applyDisposition(lead: LeadRef, action: DispositionWrite): Promise<void> {
    const update = (properties: Record<string, string>, what: string) =>
      this.call('contacts.update', `${what} ${lead.id}`, () =>
        this.client.crm.contacts.basicApi.update(lead.id, { properties }, undefined, this.sdk),
      );
    const { stages, leadStatus, lifecycleStage } = this.fields;
    switch (action) {
      case 'recycle': {
        // HubSpot only moves the stage forward: clear it, set it, then check it stuck.
        await update({ [lifecycleStage]: '' }, 'clear stage of');
        await update({ [lifecycleStage]: stages.recycled, hs_lead_status: leadStatus.recycled }, 'recycle');
        const now = await this.readStage(lead);
        if (now !== stages.recycled)
          throw new CrmError({
            crm: 'hubspot',
            status: 409,
            message: `recycle ${lead.id}: stage is "${now}" after setting "${stages.recycled}"`,
          });
        return;
      }
      case 'disqualify':
        return void (await update(
          { [lifecycleStage]: stages.disqualified, hs_lead_status: leadStatus.disqualified },
          'disqualify',
        ));
      case 'unmarket': {
        const { property, unsubscribeAllEmail } = this.fields.unmarket;
        if (property) await update({ [property.name]: property.value }, 'unmarket');
        if (unsubscribeAllEmail) await this.unsubscribeAllEmail(lead);
        return;
      }
      case 'bad_data':
        return void (await update(
          {
            [this.fields.badData]: 'true',
            [lifecycleStage]: stages.disqualified,
            hs_lead_status: leadStatus.disqualified,
          },
          'mark bad data',
        ));
    }
  }

  /**
   * Opts the contact out of all marketing email, since the API cannot set its marketing contact
   * status. v4's unsubscribe-all (one call, portal-wide, covering subscription types created later)
   * rather than v3's per-type unsubscribe that SDK 13.x wraps: v3 needs a call per type and HubSpot
   * says it cannot unsubscribe at brand or portal level. SDK 13.x has no v4 API, hence apiRequest.
   * Needs `communication_preferences.write` (or `.read_write`). A contact without email has nothing
   * to unsubscribe.
   */
  private async unsubscribeAllEmail(lead: LeadRef): Promise<void> {
    const emailProperty = this.fields.profile.email ?? 'email';
    const contact = await this.call('contacts.get', `read email of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        [emailProperty],
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    const email = contact.properties[emailProperty];
    if (!email) return;
    const answer = UnsubscribeAllResponse.parse(
      await this.callJson(
        'communication_preferences.unsubscribe_all',
        `unsubscribe ${lead.id} from all email`,
        `${unsubscribeAllPath(email)}?channel=EMAIL`,
        'POST',
      ),
    );
    // A batch-shaped answer: a 200 can still carry the contact's failure in `errors`.
    const [error] = answer.errors;
    if (error)
      throw new CrmError({
        crm: 'hubspot',
        status: 400,
        code: error.category,
        message: `unsubscribe ${lead.id} from all email: ${error.message}`,
      });
  }
}

/** The slice of v4's batch-shaped answer we rely on: per-contact failures come in `errors`. */
const UnsubscribeAllResponse = z.object({
  status: z.string(),
  errors: z.array(z.object({ message: z.string().default(''), category: z.string().optional() })).default([]),
});
