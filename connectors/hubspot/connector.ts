import type { Client } from '@hubspot/api-client';
import { type FieldLabels, type LeadRef, type Owner, type Profile } from '../../src/domain/index.js';
import { LABELS_TTL_MS, OWNERS_TTL_MS, labelsOf, memo } from '../memo.js';
import { isCrmError } from '../errors.js';
import type { CrmConnector, LeadPage, RecordFailure, RepActivity, ScoreWrite } from '../types.js';
import { contactUrl } from './account.js';
import { toMillis } from './api.js';
import { HubSpotDispositions } from './dispositions.js';
import { writeScores } from './scores.js';

/**
 * Fields that mean something only in the CRM they came from, or that HubSpot derives itself (its
 * analytics sources, the time zone): never copied into a new contact.
 */
const OWNED_BY_US = new Set([
  'ownerId',
  'leadStatus',
  'dispositionReason',
  'lastSalesActivity',
  'source',
  'sourceDetail',
  'latestSource',
  'latestSourceDetail',
  'timeZone',
]);
/** Contact properties HubSpot stamps when a rep logs a call, email or meeting. */
const SALES_ACTIVITY_PROPERTIES = ['notes_last_contacted', 'hs_last_sales_activity_timestamp'];

/**
 * The HubSpot adapter, the one class implementing CrmConnector. It builds on layers, each its own file:
 * the call wrapper (api.ts), the reads (reads.ts), the stage handoff (stages.ts), the records layer
 * (batches.ts: contact reads, notes and tasks, and the handoff batched across leads) and the
 * dispositions (dispositions.ts); contact batch updates are in scores.ts, `config check`'s reads in check.ts.
 */
export class HubSpotConnector extends HubSpotDispositions implements CrmConnector {
  readonly crm = 'hubspot' as const;
  private readonly ownerList = memo(() => this.readOwners(), OWNERS_TTL_MS);
  private readonly labels = memo(() => this.readLabels(), LABELS_TTL_MS);

  async ensureSchema(): Promise<void> {
    const wanted = [
      { name: this.fields.score, label: 'Lead score', type: 'number', fieldType: 'number' },
      { name: this.fields.fitScore, label: 'Lead fit score', type: 'number', fieldType: 'number' },
      {
        name: this.fields.engagementScore,
        label: 'Lead engagement score',
        type: 'number',
        fieldType: 'number',
      },
      { name: this.fields.scoreReasons, label: 'Lead score reasons', type: 'string', fieldType: 'textarea' },
      { name: this.fields.badData, label: 'Bad data (sales)', type: 'string', fieldType: 'text' },
      ...(this.fields.profile.dispositionReason
        ? [
            {
              name: this.fields.profile.dispositionReason,
              label: 'Disposition reason',
              type: 'string',
              fieldType: 'text',
            },
          ]
        : []),
    ];
    for (const property of wanted) {
      const exists = await this.call('properties.get', `read property ${property.name}`, () =>
        this.client.crm.properties.coreApi
          .getByName('contacts', property.name, undefined, undefined, this.sdk)
          .then(
            () => true,
            (err: unknown) => {
              if ((err as { code?: unknown }).code === 404) return false;
              throw err;
            },
          ),
      );
      if (exists) continue;
      await this.call('properties.create', `create property ${property.name}`, () =>
        this.client.crm.properties.coreApi
          .create(
            'contacts',
            {
              ...property,
              groupName: 'contactinformation',
              description: 'Maintained by leadflow',
            } as Parameters<Client['crm']['properties']['coreApi']['create']>[1],
            this.sdk,
          )
          .catch((err: unknown) => {
            // Another worker created it between our read and our create.
            if ((err as { code?: unknown }).code !== 409) throw err;
          }),
      );
    }
  }

  fieldLabels(): Promise<FieldLabels> {
    return this.labels();
  }

  /** Option labels of the mapped contact properties (enumerations), from the properties API. */
  private async readLabels(): Promise<FieldLabels> {
    const { results } = await this.contactProperties();
    const options = new Map(results.map((p) => [p.name.toLowerCase(), p.options]));
    return labelsOf({ ...this.fields.profile, lifecycleStage: this.fields.lifecycleStage }, options);
  }

  async recordUrl(lead: LeadRef): Promise<string> {
    return contactUrl(await this.accountDetails(), lead.id);
  }

  async readProfile(lead: LeadRef): Promise<Profile> {
    return this.toProfile(await this.readContact(lead));
  }

  async listLeads(after: string | undefined, limit: number): Promise<LeadPage> {
    const page = await this.call('contacts.list', 'list contacts', () =>
      this.client.crm.contacts.basicApi.getPage(
        Math.min(limit, 100),
        after,
        this.profileProperties(),
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    return {
      leads: page.results.map((c) => ({
        lead: { crm: 'hubspot', objectType: 'contact', id: c.id },
        profile: this.toProfile(c.properties),
      })),
      next: page.paging?.next?.after,
    };
  }

  writeScores(writes: ScoreWrite[]): Promise<RecordFailure[]> {
    return writeScores(writes, this.fields, (inputs) =>
      this.call('contacts.batch_update', 'write scores', () =>
        this.client.crm.contacts.batchApi.update({ inputs }, this.sdk),
      ),
    );
  }

  /** HubSpot moves it to the recycle bin (restorable for 90 days), so a mistaken delete can be undone. */
  async deleteActivity(lead: LeadRef, kind: 'note' | 'task', id: string): Promise<void> {
    try {
      await this.call(`${kind}s.delete`, `delete ${kind} ${id} of ${lead.id}`, () =>
        kind === 'note'
          ? this.client.crm.objects.notes.basicApi.archive(id, this.sdk)
          : this.client.crm.objects.tasks.basicApi.archive(id, this.sdk),
      );
    } catch (err) {
      if (!(isCrmError(err) && err.failure.status === 404)) throw err;
    }
  }

  async reassign(lead: LeadRef, ownerId: string, taskId: string | null): Promise<void> {
    await this.call('contacts.update', `reassign ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.update(
        lead.id,
        { properties: { hubspot_owner_id: ownerId } },
        undefined,
        this.sdk,
      ),
    );
    if (taskId)
      await this.call('tasks.update', `reassign task ${taskId}`, () =>
        this.client.crm.objects.tasks.basicApi.update(
          taskId,
          { properties: { hubspot_owner_id: ownerId } },
          undefined,
          this.sdk,
        ),
      );
  }

  async repActivity(lead: LeadRef, since: number, taskId: string | null): Promise<RepActivity | null> {
    if (taskId) {
      const task = await this.call('tasks.get', `read task ${taskId}`, () =>
        this.client.crm.objects.tasks.basicApi.getById(
          taskId,
          ['hs_task_status', 'hs_lastmodifieddate'],
          undefined,
          undefined,
          undefined,
          undefined,
          this.sdk,
        ),
      );
      if (task.properties.hs_task_status === 'COMPLETED')
        return { what: 'task completed', at: toMillis(task.properties.hs_lastmodifieddate) ?? Date.now() };
    }
    const contact = await this.call('contacts.get', `read activity of ${lead.id}`, () =>
      this.client.crm.contacts.basicApi.getById(
        lead.id,
        [...SALES_ACTIVITY_PROPERTIES, 'hs_lead_status'],
        undefined,
        undefined,
        undefined,
        undefined,
        this.sdk,
      ),
    );
    for (const property of SALES_ACTIVITY_PROPERTIES) {
      const at = toMillis(contact.properties[property]);
      if (at !== undefined && at > since) return { what: property, at };
    }
    const status = contact.properties.hs_lead_status;
    if (status && status !== this.fields.leadStatus.handedOff)
      return { what: `lead status ${status}`, at: Date.now() };
    return null;
  }

  owners(): Promise<Owner[]> {
    return this.ownerList();
  }

  private async readOwners(): Promise<Owner[]> {
    const [active, archived] = await Promise.all([this.listOwners(false), this.listOwners(true)]);
    return [...active, ...archived.map((o) => ({ ...o, active: false }))];
  }

  private async listOwners(archived: boolean): Promise<Owner[]> {
    const owners: Owner[] = [];
    let after: string | undefined;
    do {
      const page = await this.call('owners.list', 'list owners', () =>
        this.client.crm.owners.ownersApi.getPage(undefined, after, 100, archived, this.sdk),
      );
      for (const o of page.results)
        owners.push({
          id: o.id,
          name: [o.firstName, o.lastName].filter(Boolean).join(' ') || undefined,
          email: o.email,
          active: !archived,
        });
      after = page.paging?.next?.after;
    } while (after);
    return owners;
  }

  async matchLead(profile: Profile, create: boolean): Promise<LeadRef | null> {
    const email = typeof profile.email === 'string' ? profile.email.trim().toLowerCase() : '';
    if (!email) return null;
    const found = (await this.contactIdsByEmail([email])).get(email);
    if (found) return { crm: 'hubspot', objectType: 'contact', id: found };
    if (!create) return null;
    const properties: Record<string, string> = {};
    for (const [field, property] of Object.entries(this.fields.profile))
      if (!OWNED_BY_US.has(field) && profile[field] !== undefined && profile[field] !== null)
        properties[property] = String(profile[field]);
    const created = await this.call('contacts.create', `create contact ${email}`, () =>
      this.client.crm.contacts.basicApi.create({ properties, associations: [] }, this.sdk),
    );
    return { crm: 'hubspot', objectType: 'contact', id: created.id };
  }
}
