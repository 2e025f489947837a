import { z } from 'zod';
import type { LeadRef } from '../../src/domain/index.js';
import { isCrmError } from '../errors.js';
import type { HandoffWrite, HandoffWritten, StageAdvance } from '../types.js';
import { NO_AUTO_ASSIGN, checkId, createdId, type SubRequest, type Target } from './api.js';
import { SalesforceBatches } from './batches.js';
import { RECORD_ID } from './soql.js';
import { noteFields, repTaskFields } from './tasks.js';

/** A Lead's conversion: the Contact it became (`ConvertedContactId` is null until converted). */
const ConvertedLead = z.looseObject({
  IsConverted: z.boolean(),
  ConvertedContactId: z.string().regex(RECORD_ID).nullable(),
});

/**
 * The handoff's writes: the lifecycle field moved forward only (advanceStage), or the whole handoff
 * all or nothing (writeHandoff: its own composite request, or its own graph among other leads' while
 * there is a backlog), which falls back to the Contact when sales converted the Lead.
 */
export abstract class SalesforceHandoff extends SalesforceBatches {
  /**
   * Where a lifecycle value sits in the forward-only order: open values, empty and recycled (back
   * with marketing) 0, MQL 1, SQL 2. Anything else (working, converted, closed) belongs to sales:
   * undefined, and never moved.
   */
  private rank(value: string): number | undefined {
    const s = this.config.fields.stages;
    if (value === '' || s.open.includes(value) || value === s.recycled) return 0;
    if (value === s.mql) return 1;
    if (value === s.sql) return 2;
    return undefined;
  }

  private movesForward(current: string, stage: 'mql' | 'sql'): boolean {
    const from = this.rank(current);
    return from !== undefined && from < (stage === 'mql' ? 1 : 2);
  }

  /** The handoff's record update: stage and owner, and whether assignment rules may run. */
  private handoffUpdate(t: Target, stage: 'mql' | 'sql', ownerId: string | null | undefined) {
    const headers = this.assignHeaders();
    if (ownerId && headers) checkId(ownerId, 'owner');
    return {
      fields: {
        [t.lifecycle]: this.config.fields.stages[stage],
        ...(ownerId && headers ? { [t.owner]: ownerId } : {}),
      },
      headers,
    };
  }

  private async readStage(t: Target): Promise<string> {
    const value = (await this.readRecord(t, [t.lifecycle]))[t.lifecycle];
    return typeof value === 'string' ? value : '';
  }

  /**
   * Moves the lifecycle field forward only. With `knownStage` the read is skipped: Salesforce has
   * no conditional update, so a stale copy is trusted as it is (the sync keeps it fresh).
   */
  async advanceStage(
    lead: LeadRef,
    stage: 'mql' | 'sql',
    knownStage?: string,
    ownerId?: string | null,
  ): Promise<StageAdvance> {
    const t = this.target(lead);
    const current = knownStage ?? (await this.readStage(t));
    if (!this.movesForward(current, stage)) return { stage: current, advanced: false };
    const update = this.handoffUpdate(t, stage, ownerId);
    await this.call('sobjects.update', `hand over ${t.sObject} ${t.id}`, () =>
      this.send('PATCH', `/sobjects/${t.sObject}/${t.id}`, update.fields, update.headers),
    );
    return { stage: this.config.fields.stages[stage], advanced: true };
  }

  /**
   * The whole handoff, all or nothing: the record's stage (when it moves forward), owner and scores,
   * and the Task carrying the note (the rep task when there is one), in one composite request — or,
   * while other leads' handoffs wait too, as this lead's graph in one Composite Graph request: a lead
   * whose record update or Task fails has neither written, whatever the others did. A retry
   * (`mayExist`) first looks for the Task by its marker and leaves it out when found.
   *
   * A Lead sales converted meanwhile is read-only (CANNOT_UPDATE_CONVERTED_LEAD): the handoff is moot
   * — the person is sales' Contact now, with the owner sales gave it — so the Contact gets the scores
   * and the note as a closed Task, no owner, stage or rep task, and the answer says where it went.
   */
  async writeHandoff(write: HandoffWrite): Promise<HandoffWritten> {
    const t = this.target(write.lead);
    const current = write.knownStage ?? (await this.readStage(t));
    try {
      return await this.handoffComposite(write, t, current, this.movesForward(current, write.stage));
    } catch (err) {
      const converted = await this.conversionOf(t, err);
      if (!converted) throw err;
      this.logger?.info(
        { lead: t.id, contact: converted.contact.id, handoffId: write.handoffId },
        'lead already converted: handoff written to its contact as scores and a note',
      );
      const written = await this.handoffComposite(
        { ...write, ownerId: null, task: null },
        this.target(converted.contact),
        converted.status,
        false,
      );
      return { ...written, convertedTo: converted.contact };
    }
  }

  private async handoffComposite(
    write: HandoffWrite,
    t: Target,
    current: string,
    moves: boolean,
  ): Promise<HandoffWritten> {
    const existing = write.mayExist ? await this.findHandoffTask(t, write.handoffId) : undefined;
    const update = moves
      ? this.handoffUpdate(t, write.stage, write.ownerId)
      : { fields: {}, headers: NO_AUTO_ASSIGN };
    const task = write.task
      ? repTaskFields(this.config, t.id, write.handoffId, { ...write.task, body: write.note.text })
      : noteFields(this.config, t.id, {
          key: write.handoffId,
          subject: write.note.subject,
          text: write.note.text,
          ownerId: write.ownerId,
          at: this.now(),
        });
    const taskHeaders = this.assignHeaders();
    const requests: SubRequest[] = [
      {
        method: 'PATCH',
        url: this.dataPath(`/sobjects/${t.sObject}/${t.id}`),
        referenceId: 'record',
        body: { ...this.scoreFields(write.score), ...update.fields },
        ...(update.headers ? { httpHeaders: update.headers } : {}),
      },
      ...(existing
        ? []
        : [
            {
              method: 'POST' as const,
              url: this.dataPath('/sobjects/Task'),
              referenceId: 'task',
              body: task,
              ...(taskHeaders ? { httpHeaders: taskHeaders } : {}),
            },
          ]),
    ];
    const answers = await this.writeHandoffRequests(`hand over ${t.sObject} ${t.id}`, t, requests);
    const taskId = existing ?? createdId(answers.get('task')?.body, `hand over ${t.sObject} ${t.id}`);
    const record = { id: taskId, created: existing === undefined };
    return {
      stage: moves ? this.config.fields.stages[write.stage] : current,
      advanced: moves,
      note: record,
      task: write.task ? record : null,
    };
  }

  /**
   * When a write to a Lead failed because sales converted it: the Contact it became and the Lead's
   * (converted) status. Undefined for any other failure.
   */
  private async conversionOf(
    t: Target,
    err: unknown,
  ): Promise<{ contact: LeadRef; status: string } | undefined> {
    if (t.sObject !== 'Lead' || !isCrmError(err) || err.failure.code !== 'CANNOT_UPDATE_CONVERTED_LEAD')
      return undefined;
    const row = ConvertedLead.parse(
      await this.call('sobjects.get', `read conversion of Lead ${t.id}`, () =>
        this.send('GET', `/sobjects/Lead/${t.id}?fields=IsConverted,ConvertedContactId,${t.lifecycle}`),
      ),
    );
    if (!row.IsConverted || !row.ConvertedContactId) return undefined;
    const status = row[t.lifecycle];
    return {
      contact: { crm: 'salesforce', objectType: 'contact', id: row.ConvertedContactId },
      status: typeof status === 'string' ? status : '',
    };
  }
}
