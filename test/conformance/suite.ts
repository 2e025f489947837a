import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCrmError } from '../../connectors/errors.js';
import type { CrmConnector } from '../../connectors/types.js';
import type { LeadRef, Profile, RepTask } from '../../src/domain/index.js';
import { testScore } from '../helpers/score.js';

/**
 * What a CRM-side test needs to check the connector's effects in that CRM, in canonical terms, so
 * one suite runs against every connector (HubSpot through the sandbox today, Salesforce next).
 */
export interface ConformanceHarness {
  connector: CrmConnector;
  /** Creates a lead in the CRM with these canonical profile fields and an early lifecycle stage. */
  seedLead(profile: Profile): Promise<LeadRef>;
  /** A lead id the CRM does not have. */
  missingLead(): LeadRef;
  /** The record's stage in canonical terms: lead, mql, sql, recycled, disqualified, or the CRM's own value. */
  stage(lead: LeadRef): string;
  owner(lead: LeadRef): string | null;
  score(lead: LeadRef): number | null;
  notes(lead: LeadRef): string[];
  tasks(lead: LeadRef): { id: string; ownerId: string | null; dueAt: number; body: string }[];
  /** Marks a task completed, as a rep would. */
  completeTask(taskId: string): void;
  /** A mapped option field, one of its stored values and the label the CRM shows for it. */
  option: { field: string; value: string; label: string };
  /** The record page a rep opens for this lead. */
  recordUrl(lead: LeadRef): string;
  /** An owner id the CRM has deactivated, and an active one. */
  owners: { active: string; other: string; deactivated: string };
  /**
   * The CRM keeps only the day a task is due (Salesforce `Task.ActivityDate`): due times are
   * compared at UTC-day precision.
   */
  dueDayOnly?: boolean;
  /** The next create of this kind takes effect in the CRM but its answer is lost. */
  loseNextCreate(kind: 'note' | 'task'): void;
  /** Moves the creation time of the lead's notes and tasks `days` back, as the CRM keeps it. */
  backdateActivities(lead: LeadRef, days: number): void;
  close(): Promise<void>;
}

const task = (ownerId: string, marker: string): RepTask => ({
  subject: 'Call Ada Lovelace (MQL, score 62)',
  body: `Why now: pricing page ×3\nHandoff ID: ${marker}`,
  dueAt: Date.UTC(2030, 0, 7, 15, 0),
  ownerId,
  priority: 'HIGH',
  type: 'CALL',
});

/** The contract every CrmConnector must keep. */
export function connectorConformance(name: string, makeHarness: () => Promise<ConformanceHarness>): void {
  describe(`connector conformance: ${name}`, () => {
    let h: ConformanceHarness;
    beforeAll(async () => {
      h = await makeHarness();
      await h.connector.ensureSchema();
      await h.connector.ensureSchema(); // safe to repeat
    });
    afterAll(() => h.close());

    it('reads the mapped profile fields in canonical names', async () => {
      const lead = await h.seedLead({ email: 'ada@analytical.io', jobTitle: 'VP Data', country: 'France' });
      expect(await h.connector.readProfile(lead)).toMatchObject({
        email: 'ada@analytical.io',
        jobTitle: 'VP Data',
        country: 'France',
      });
    });

    it('lists every lead once, page by page, with its profile in canonical names', async () => {
      const seeded = [
        await h.seedLead({ email: 'list1@x.io' }),
        await h.seedLead({ email: 'list2@x.io' }),
        await h.seedLead({ email: 'list3@x.io' }),
      ];
      const listed: { id: string; email: unknown }[] = [];
      let after: string | undefined;
      do {
        const page = await h.connector.listLeads(after, 2);
        expect(page.leads.length).toBeLessThanOrEqual(2);
        listed.push(...page.leads.map((l) => ({ id: l.lead.id, email: l.profile.email })));
        after = page.next;
      } while (after);
      expect(new Set(listed.map((l) => l.id)).size).toBe(listed.length);
      for (const [i, lead] of seeded.entries())
        expect(listed.filter((l) => l.id === lead.id)).toEqual([{ id: lead.id, email: `list${i + 1}@x.io` }]);
    });

    it('matches a lead by email whatever its case, and creates one only when asked', async () => {
      const lead = await h.seedLead({ email: 'match@x.io' });
      expect(await h.connector.matchLead({ email: ' Match@X.io ' }, false)).toEqual(lead);
      expect(await h.connector.matchLead({ email: '' }, true)).toBeNull();
      expect(await h.connector.matchLead({ email: 'newcomer@x.io' }, false)).toBeNull();
      const created = await h.connector.matchLead({ email: 'newcomer@x.io', jobTitle: 'CTO' }, true);
      expect(created).not.toBeNull();
      expect(await h.connector.readProfile(created!)).toMatchObject({
        email: 'newcomer@x.io',
        jobTitle: 'CTO',
      });
      expect(await h.connector.matchLead({ email: 'newcomer@x.io' }, true)).toEqual(created);
    });

    it('writes scores in a batch and returns a missing record as a failure, not an exception', async () => {
      const lead = await h.seedLead({ email: 'b@x.io' });
      const missing = h.missingLead();
      const failures = await h.connector.writeScores([
        { lead, score: testScore(62) },
        { lead: missing, score: testScore(40) },
      ]);
      expect(h.score(lead)).toBe(62);
      expect(failures.map((f) => f.lead)).toEqual([missing]);
      expect(failures[0]?.error.failure.status).toBeGreaterThanOrEqual(400);
    });

    it('moves the stage forward with the owner, and never backward', async () => {
      const lead = await h.seedLead({ email: 'c@x.io' });
      await h.connector.advanceStage(lead, 'mql', undefined, h.owners.active);
      expect([h.stage(lead), h.owner(lead)]).toEqual(['mql', h.owners.active]);
      await h.connector.advanceStage(lead, 'sql');
      expect(h.stage(lead)).toBe('sql');
      // A stale "lead" copy must not pull it back to MQL, nor take it from its owner.
      const stale = await h.connector.advanceStage(lead, 'mql', 'lead', h.owners.other);
      expect(stale.advanced).toBe(false);
      expect([h.stage(lead), h.owner(lead)]).toEqual(['sql', h.owners.active]);
    });

    it('creates one note per handoff id, even when the first answer was lost', async () => {
      const lead = await h.seedLead({ email: 'd@x.io' });
      h.loseNextCreate('note');
      const lost: unknown = await h.connector
        .createHandoffNote(lead, 'hf.conf.1', '<p>Handoff ID: hf.conf.1</p>', false)
        .catch((e: unknown) => e);
      expect(isCrmError(lost) && lost.failure.network).toBe(true);
      const retried = await h.connector.createHandoffNote(
        lead,
        'hf.conf.1',
        '<p>Handoff ID: hf.conf.1</p>',
        true,
      );
      expect(retried.created).toBe(false);
      expect(h.notes(lead)).toHaveLength(1);
    });

    it('takes a marked note older than the marker lookback for an earlier life of the id, not its own', async () => {
      // A lead forgotten after its retention starts again at cycle 0: its next handoff id is the old one.
      const lead = await h.seedLead({ email: 'again@x.io' });
      const body = '<p>Handoff ID: hf.conf.life</p>';
      await h.connector.createHandoffNote(lead, 'hf.conf.life', body, false);
      h.backdateActivities(lead, 29);
      expect((await h.connector.createHandoffNote(lead, 'hf.conf.life', body, true)).created).toBe(false);
      h.backdateActivities(lead, 31);
      expect((await h.connector.createHandoffNote(lead, 'hf.conf.life', body, true)).created).toBe(true);
      expect(h.notes(lead)).toHaveLength(2);
    });

    it('deletes a task a handoff created, and counts one already gone as deleted', async () => {
      const lead = await h.seedLead({ email: 'withdrawn@x.io' });
      const created = await h.connector.createRepTask(
        lead,
        'hf.conf.gone',
        task(h.owners.active, 'hf.conf.gone'),
        false,
      );
      await h.connector.deleteActivity(lead, 'task', created.id);
      expect(h.tasks(lead)).toEqual([]);
      await h.connector.deleteActivity(lead, 'task', created.id);
    });

    it('creates one rep task per key, with owner and due date; an escalation is a task of its own', async () => {
      const lead = await h.seedLead({ email: 'e@x.io' });
      h.loseNextCreate('task');
      await h.connector
        .createRepTask(lead, 'hf.conf.2', task(h.owners.active, 'hf.conf.2'), false)
        .catch(() => null);
      const again = await h.connector.createRepTask(
        lead,
        'hf.conf.2',
        task(h.owners.active, 'hf.conf.2'),
        true,
      );
      expect(again.created).toBe(false);
      const escalation = await h.connector.createRepTask(
        lead,
        'hf.conf.2.escalation.0',
        task(h.owners.other, 'hf.conf.2.escalation.0'),
        true,
      );
      expect(escalation.created).toBe(true);
      const tasks = h.tasks(lead);
      const due = h.dueDayOnly ? Date.UTC(2030, 0, 7) : Date.UTC(2030, 0, 7, 15, 0);
      expect(tasks.map((t) => [t.ownerId, t.dueAt])).toEqual([
        [h.owners.active, due],
        [h.owners.other, due],
      ]);
    });

    it('gives the labels of the mapped option fields, and a link to the record', async () => {
      const labels = await h.connector.fieldLabels();
      expect(labels[h.option.field]?.[h.option.value]).toBe(h.option.label);
      expect(await h.connector.fieldLabels()).toBe(labels); // read once, shared
      const lead = await h.seedLead({ email: 'link@x.io' });
      expect(await h.connector.recordUrl(lead)).toBe(h.recordUrl(lead));
    });

    it('lists owners, deactivated ones inactive', async () => {
      const owners = await h.connector.owners();
      expect(owners.find((o) => o.id === h.owners.active)?.active).toBe(true);
      expect(owners.find((o) => o.id === h.owners.deactivated)?.active).toBe(false);
    });

    it('reassigns lead and task, and sees a completed task as rep activity', async () => {
      const lead = await h.seedLead({ email: 'f@x.io' });
      const since = Date.now() - 1_000;
      const { id } = await h.connector.createRepTask(
        lead,
        'hf.conf.3',
        task(h.owners.active, 'hf.conf.3'),
        false,
      );
      expect(await h.connector.repActivity(lead, since, id)).toBeNull();
      await h.connector.reassign(lead, h.owners.other, id);
      expect(h.owner(lead)).toBe(h.owners.other);
      expect(h.tasks(lead)[0]?.ownerId).toBe(h.owners.other);
      h.completeTask(id);
      expect((await h.connector.repActivity(lead, since, id))?.what).toBe('task completed');
    });

    it('recycles a lead back, and disqualifies', async () => {
      const recycled = await h.seedLead({ email: 'g@x.io' });
      await h.connector.advanceStage(recycled, 'sql');
      await h.connector.applyDisposition(recycled, 'recycle');
      expect(h.stage(recycled)).toBe('recycled');
      const disqualified = await h.seedLead({ email: 'h@x.io' });
      await h.connector.applyDisposition(disqualified, 'disqualify');
      expect(h.stage(disqualified)).toBe('disqualified');
    });
  });
}
