import { CrmError, type CrmFailure } from '../../connectors/errors.js';
import type {
  CreatedRecord,
  CrmConnector,
  DispositionWrite,
  HandoffWrite,
  HandoffWritten,
  LeadPage,
  RecordFailure,
  RepActivity,
  ScoreWrite,
  StageAdvance,
} from '../../connectors/types.js';
import {
  containsMarker,
  leadKey,
  type Crm,
  type FieldLabels,
  type LeadRef,
  type Owner,
  type Profile,
  type RepTask,
} from '../../src/domain/index.js';

type Method =
  | 'readProfile'
  | 'writeScores'
  | 'advanceStage'
  | 'createHandoffNote'
  | 'createRepTask'
  | 'deleteActivity'
  | 'reassign'
  | 'repActivity'
  | 'applyDisposition'
  | 'matchLead'
  | 'fieldLabels'
  | 'writeHandoff';

/**
 * An in-memory CRM for pipeline tests (the end-to-end test uses the real HubSpot client and the
 * sandbox instead). Failures can be queued per method; `loseResponse` makes a call take effect and
 * then fail, like a response lost on the wire.
 */
export class FakeConnector implements CrmConnector {
  constructor(readonly crm: Crm = 'hubspot') {}
  profiles = new Map<string, Profile>();
  scores = new Map<string, number>();
  stages = new Map<string, string>();
  notes: { id: string; lead: string; handoffId: string; body: string }[] = [];
  tasks: (RepTask & { id: string; lead: string; key: string })[] = [];
  /** Notes and tasks deleted through deleteActivity. */
  deletedNotes = new Set<string>();
  deletedTasks = new Set<string>();
  /** lead key → owner id */
  ownersOf = new Map<string, string>();
  /** The owners of config/default.yaml's routing, all active. */
  ownerList: Owner[] = ['101', '102', '103', '104', '900', '901'].map((id) => ({ id, active: true }));
  /** lead key → what a rep did, for SLA checks */
  activity = new Map<string, RepActivity>();
  dispositions: { lead: string; action: DispositionWrite }[] = [];
  calls: { method: Method; mayExist?: boolean; records?: number }[] = [];
  private failures: { method: Method; failure: CrmFailure; loseResponse: boolean }[] = [];
  /** A lead whose record every batch write rejects (like one failed entry of a HubSpot 207). */
  rejectLead: { id: string; failure: Omit<CrmFailure, 'crm'> } | undefined;

  failNext(
    method: Method,
    failure: Omit<CrmFailure, 'crm'>,
    opts: { times?: number; loseResponse?: boolean } = {},
  ) {
    for (let i = 0; i < (opts.times ?? 1); i++)
      this.failures.push({
        method,
        failure: { crm: this.crm, ...failure },
        loseResponse: opts.loseResponse ?? false,
      });
  }

  protected async call<T>(method: Method, effect: () => T): Promise<T> {
    await new Promise((resolve) => setImmediate(resolve));
    const i = this.failures.findIndex((f) => f.method === method);
    const failure = i >= 0 ? this.failures.splice(i, 1)[0] : undefined;
    if (failure && !failure.loseResponse) throw new CrmError(failure.failure);
    const result = effect();
    if (failure) throw new CrmError(failure.failure);
    return result;
  }

  async ensureSchema(): Promise<void> {}

  readProfile(lead: LeadRef): Promise<Profile> {
    this.calls.push({ method: 'readProfile' });
    return this.call('readProfile', () => ({ ...(this.profiles.get(leadKey(lead)) ?? {}) }));
  }

  listLeads(after: string | undefined, limit: number): Promise<LeadPage> {
    const ids = [...this.profiles.keys()].sort();
    const start = after ? ids.indexOf(after) + 1 : 0;
    const slice = ids.slice(start, start + limit);
    return Promise.resolve({
      leads: slice.map((key) => ({
        lead: { crm: this.crm, objectType: 'contact' as const, id: key.split('.').at(-1)! },
        profile: { ...this.profiles.get(key) },
      })),
      next: start + limit < ids.length ? slice.at(-1) : undefined,
    });
  }

  writeScores(writes: ScoreWrite[]): Promise<RecordFailure[]> {
    this.calls.push({ method: 'writeScores', records: writes.length });
    return this.call('writeScores', () => {
      const failures: RecordFailure[] = [];
      for (const w of writes) {
        if (w.lead.id === this.rejectLead?.id)
          failures.push({
            lead: w.lead,
            error: new CrmError({ crm: this.crm, ...this.rejectLead.failure }),
          });
        else this.scores.set(leadKey(w.lead), w.score.total);
      }
      return failures;
    });
  }

  advanceStage(
    lead: LeadRef,
    stage: 'mql' | 'sql',
    _known?: string,
    ownerId?: string | null,
  ): Promise<StageAdvance> {
    this.calls.push({ method: 'advanceStage' });
    return this.call('advanceStage', () => {
      // Past SQL is sales' record: its stage and owner stay.
      const advanced = this.stages.get(leadKey(lead)) !== 'sql';
      if (advanced) {
        if (ownerId) this.ownersOf.set(leadKey(lead), ownerId);
        this.stages.set(leadKey(lead), stage);
      }
      return { stage: this.stages.get(leadKey(lead))!, advanced };
    });
  }

  createHandoffNote(
    lead: LeadRef,
    handoffId: string,
    body: string,
    mayExist: boolean,
  ): Promise<CreatedRecord> {
    this.calls.push({ method: 'createHandoffNote', mayExist });
    return this.call('createHandoffNote', () => {
      const existing = mayExist ? this.notes.find((n) => containsMarker(n.body, handoffId)) : undefined;
      if (existing) return { id: existing.id, created: false };
      const id = String(this.notes.length + 1);
      this.notes.push({ id, lead: leadKey(lead), handoffId, body });
      return { id, created: true };
    });
  }

  createRepTask(lead: LeadRef, key: string, task: RepTask, mayExist: boolean): Promise<CreatedRecord> {
    this.calls.push({ method: 'createRepTask', mayExist });
    return this.call('createRepTask', () => {
      const existing = mayExist ? this.tasks.find((t) => containsMarker(t.body, key)) : undefined;
      if (existing) return { id: existing.id, created: false };
      const id = `t${this.tasks.length + 1}`;
      this.tasks.push({ ...task, id, lead: leadKey(lead), key });
      return { id, created: true };
    });
  }

  deleteActivity(_lead: LeadRef, kind: 'note' | 'task', id: string): Promise<void> {
    this.calls.push({ method: 'deleteActivity' });
    return this.call('deleteActivity', () => {
      // Marked, not removed: ids are numbered by count.
      if (kind === 'note') this.deletedNotes.add(id);
      else this.deletedTasks.add(id);
    });
  }

  reassign(lead: LeadRef, ownerId: string, taskId: string | null): Promise<void> {
    this.calls.push({ method: 'reassign' });
    return this.call('reassign', () => {
      this.ownersOf.set(leadKey(lead), ownerId);
      const task = this.tasks.find((t) => t.id === taskId);
      if (task) task.ownerId = ownerId;
    });
  }

  repActivity(lead: LeadRef, since: number): Promise<RepActivity | null> {
    this.calls.push({ method: 'repActivity' });
    return this.call('repActivity', () => {
      const activity = this.activity.get(leadKey(lead));
      return activity && activity.at > since ? activity : null;
    });
  }

  owners(): Promise<Owner[]> {
    return Promise.resolve(this.ownerList);
  }

  /** What fieldLabels answers: canonical field → value → label. */
  labels: FieldLabels = {};

  fieldLabels(): Promise<FieldLabels> {
    return this.call('fieldLabels', () => this.labels);
  }

  recordUrl(lead: LeadRef): Promise<string> {
    return Promise.resolve(`https://crm.example/${this.crm}/${lead.objectType}/${lead.id}`);
  }

  matchLead(profile: Profile, create: boolean): Promise<LeadRef | null> {
    this.calls.push({ method: 'matchLead' });
    return this.call('matchLead', () => {
      const email = String(profile.email ?? '').toLowerCase();
      if (!email) return null;
      const found = [...this.profiles].find(([, p]) => String(p.email ?? '').toLowerCase() === email);
      if (found) return { crm: this.crm, objectType: 'lead' as const, id: found[0].split('.').at(-1)! };
      if (!create) return null;
      const lead: LeadRef = { crm: this.crm, objectType: 'lead', id: `m${this.profiles.size + 1}` };
      this.profiles.set(leadKey(lead), { ...profile });
      return lead;
    });
  }

  applyDisposition(lead: LeadRef, action: DispositionWrite): Promise<void> {
    this.calls.push({ method: 'applyDisposition' });
    return this.call('applyDisposition', () => {
      this.dispositions.push({ lead: leadKey(lead), action });
    });
  }
}

/**
 * A CRM that writes a whole handoff in one all-or-nothing request, like Salesforce's composite:
 * the note is the task's body, or a completed activity of its own without a task.
 */
export class CompositeFakeConnector extends FakeConnector {
  handoffWrites: HandoffWrite[] = [];

  writeHandoff(write: HandoffWrite): Promise<HandoffWritten> {
    this.calls.push({ method: 'writeHandoff', mayExist: write.mayExist });
    this.handoffWrites.push(write);
    return this.call('writeHandoff', () => {
      const key = leadKey(write.lead);
      const existing = write.mayExist
        ? this.tasks.find((t) => t.lead === key && containsMarker(t.body, write.handoffId))
        : undefined;
      this.scores.set(key, write.score.total);
      const advanced = this.stages.get(key) !== 'sql';
      if (advanced) {
        if (write.ownerId) this.ownersOf.set(key, write.ownerId);
        this.stages.set(key, write.stage);
      }
      const stage = this.stages.get(key)!;
      if (existing) {
        const record = { id: existing.id, created: false };
        return { stage, advanced, note: record, task: write.task ? record : null };
      }
      const task = write.task ?? {
        subject: write.note.subject,
        body: write.note.text,
        dueAt: 0,
        ownerId: write.ownerId,
        priority: 'LOW' as const,
        type: 'TODO' as const,
      };
      const id = `t${this.tasks.length + 1}`;
      this.tasks.push({ ...task, body: write.note.text, id, lead: key, key: write.handoffId });
      const record = { id, created: true };
      return { stage, advanced, note: record, task: write.task ? record : null };
    });
  }
}
