import { z } from 'zod';
import type { LeadRef } from '../../src/domain/index.js';
import type { StageAdvance } from '../types.js';
import { HubSpotReads } from './reads.js';
import type { UpdatedContact } from './scores.js';

/** HubSpot's default lifecycle order; portals may add stages, read from the property's options then. */
const DEFAULT_STAGE_ORDER = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
  'other',
];
/** A PATCH answer: the contact's properties as they are after the update. */
const PatchAnswer = z.object({
  properties: z.record(z.string(), z.string().nullable()),
  updatedAt: z.date(),
});
/** `propertiesWithHistory` of a contact read: every version of each property, with when it was set. */
const PropertyHistory = z.record(
  z.string(),
  z.array(
    z.object({
      value: z.string(),
      timestamp: z.date().transform((d) => d.getTime()),
    }),
  ),
);
/** Our version of a property is stamped with the update's time, give or take HubSpot's own clocks. */
const VERSION_CLOCK_SLACK_MS = 1_000;

/**
 * The handoff's stage write: forward only, in the portal's stage order, with the owner and status it
 * carries put back when HubSpot keeps the stage but applies the rest (see advanceStage).
 */
export abstract class HubSpotStages extends HubSpotReads {
  private stageOrder: string[] | undefined;

  /**
   * HubSpot answers a backward stage write 2xx without applying the stage, but applies the owner and
   * status of the same PATCH. Its answer carries the properties as they are afterwards, so a stage
   * that did not stick shows in the same round trip: then the owner and status we wrote are put back
   * at once from their history, and the handoff is reported as not advanced.
   */
  advanceStage(
    lead: LeadRef,
    stage: 'mql' | 'sql',
    knownStage?: string,
    ownerId?: string | null,
  ): Promise<StageAdvance> {
    return this.moveStage(lead, stage, knownStage, ownerId, {}, async (properties) =>
      PatchAnswer.parse(
        await this.call('contacts.update', `hand over ${lead.id}`, () =>
          this.client.crm.contacts.basicApi.update(lead.id, { properties }, undefined, this.sdk),
        ),
      ),
    );
  }

  /**
   * The stage write of advanceStage through `write` (a PATCH of its own, or the lead's input in a
   * batch update), with `alongside` in the same write whatever the stage does (the handoff's scores).
   * `write` answers the contact afterwards, or undefined when the answer did not show it.
   */
  protected async moveStage(
    lead: LeadRef,
    stage: 'mql' | 'sql',
    knownStage: string | undefined,
    ownerId: string | null | undefined,
    alongside: Record<string, string>,
    write: (properties: Record<string, string>) => Promise<UpdatedContact | undefined>,
  ): Promise<StageAdvance> {
    const target = this.fields.stages[stage];
    const order = await this.stages();
    const atOrPast = (current: string) => current !== '' && order.indexOf(current) >= order.indexOf(target);
    // Already at or past the stage: sales has it, so neither stage nor owner is touched.
    const current = knownStage ?? (await this.readStage(lead));
    if (atOrPast(current)) {
      if (Object.keys(alongside).length) await write(alongside);
      return { stage: current, advanced: false };
    }

    // Stage, owner and status in one write: the handoff's latency is mostly CRM round trips.
    const properties: Record<string, string> = {
      [this.fields.lifecycleStage]: target,
      hs_lead_status: this.fields.leadStatus.handedOff,
    };
    if (ownerId) properties.hubspot_owner_id = ownerId;
    const sentAt = new Date();
    const answer = await write({ ...alongside, ...properties });
    const now = answer?.properties[this.fields.lifecycleStage] ?? (await this.readStage(lead));
    if (now === target) return { stage: now, advanced: true };
    const others = Object.fromEntries(
      Object.entries(properties).filter(([name]) => name !== this.fields.lifecycleStage),
    );
    const restored = await this.restoreBefore(lead, others, answer?.updatedAt ?? sentAt);
    return { stage: now, advanced: false, restored };
  }

  /**
   * Puts back the values these properties had before our write at `writtenAt` (HubSpot's clock).
   * A property is restored only while our value is still its newest version: a change someone made
   * after ours stands. Returns the names restored.
   */
  private async restoreBefore(
    lead: LeadRef,
    written: Record<string, string>,
    writtenAt: Date,
  ): Promise<string[]> {
    const contact = await this.call('contacts.get', `read history of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        [],
        Object.keys(written),
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    const history = PropertyHistory.parse(contact.propertiesWithHistory ?? {});
    const restore: Record<string, string> = {};
    for (const [name, value] of Object.entries(written)) {
      const [ours, before] = [...(history[name] ?? [])].sort((a, b) => b.timestamp - a.timestamp);
      if (ours?.value === value && ours.timestamp >= writtenAt.getTime() - VERSION_CLOCK_SLACK_MS)
        restore[name] = before?.value ?? '';
    }
    if (Object.keys(restore).length === 0) return [];
    await this.call('contacts.update', `restore ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.update(lead.id, { properties: restore }, undefined, this.sdk),
    );
    return Object.keys(restore);
  }

  protected async readStage(lead: LeadRef): Promise<string> {
    const contact = await this.call('contacts.get', `read stage of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        [this.fields.lifecycleStage],
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    return contact.properties[this.fields.lifecycleStage] ?? '';
  }

  /** The portal's stage order: the default one, or the property's options when the portal customized it. */
  private async stages(): Promise<string[]> {
    if (this.stageOrder) return this.stageOrder;
    const targets = Object.values(this.fields.stages);
    if (targets.every((t) => DEFAULT_STAGE_ORDER.includes(t))) return (this.stageOrder = DEFAULT_STAGE_ORDER);
    const property = await this.call('properties.get', 'read lifecycle stages', () =>
      this.client.crm.properties.coreApi.getByName(
        'contacts',
        this.fields.lifecycleStage,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    this.stageOrder = [...property.options]
      .sort((a, b) => (a.displayOrder ?? 0) - (b.displayOrder ?? 0))
      .map((o) => o.value);
    return this.stageOrder;
  }
}
