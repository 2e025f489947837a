import { z } from 'zod';
import type { LeadRef, Score } from '../../src/domain/index.js';
import { CrmError } from '../errors.js';
import type { RecordFailure, ScoreWrite } from '../types.js';
import { NO_AUTO_ASSIGN, SalesforceApi } from './api.js';
import { toSalesforceFailure } from './errors.js';
import { RECORD_ID } from './soql.js';
import { DESCRIPTION_MAX } from './tasks.js';

/** sObject Collections take at most 200 records a request. */
const COLLECTION_MAX = 200;
const SaveResults = z.array(z.object({ id: z.string().nullish(), success: z.boolean() }).loose());

/** Score writes: the score fields of a record, written in sObject Collections. */
export abstract class SalesforceScores extends SalesforceApi {
  /**
   * Scores in collections of 200. A Lead sales converted meanwhile is read-only: its scores go to
   * the Contact it became, in one more collection, instead of failing.
   */
  async writeScores(writes: ScoreWrite[]): Promise<RecordFailure[]> {
    const failures = await this.writeScoreCollections(writes);
    const converted = failures.filter(
      (f) => f.lead.objectType === 'lead' && f.error.failure.code === 'CANNOT_UPDATE_CONVERTED_LEAD',
    );
    if (!converted.length) return failures;
    const contacts = await this.convertedContacts(converted.map((f) => f.lead.id));
    const moved = writes.flatMap((w) => {
      const contact = contacts.get(w.lead.id);
      return contact ? [{ from: w.lead, write: { ...w, lead: contact } }] : [];
    });
    const movedFailures = await this.writeScoreCollections(moved.map((m) => m.write));
    const byContact = new Map(moved.map((m) => [m.write.lead.id, m.from]));
    return [
      ...failures.filter((f) => !moved.some((m) => m.from.id === f.lead.id)),
      ...movedFailures.map((f) => ({ ...f, lead: byContact.get(f.lead.id) ?? f.lead })),
    ];
  }

  /** Lead id → the Contact each converted Lead became. */
  private async convertedContacts(leadIds: string[]): Promise<Map<string, LeadRef>> {
    const found = new Map<string, LeadRef>();
    for await (const rows of this.soql(
      `SELECT Id, ConvertedContactId FROM Lead WHERE IsConverted = true AND Id IN (${leadIds.map((id) => `'${id}'`).join(', ')})`,
    ))
      for (const row of rows)
        if (typeof row.ConvertedContactId === 'string' && RECORD_ID.test(row.ConvertedContactId))
          found.set(String(row.Id), { crm: 'salesforce', objectType: 'contact', id: row.ConvertedContactId });
    return found;
  }

  private async writeScoreCollections(writes: ScoreWrite[]): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    for (let i = 0; i < writes.length; i += COLLECTION_MAX) {
      const chunk = writes.slice(i, i + COLLECTION_MAX);
      const records = chunk.map((w) => {
        const t = this.target(w.lead);
        return { attributes: { type: t.sObject }, id: t.id, ...this.scoreFields(w.score) };
      });
      const answer = await this.call(
        'composite.sobjects',
        `write ${chunk.length} scores`,
        () => this.send('PATCH', '/composite/sobjects', { allOrNone: false, records }, NO_AUTO_ASSIGN),
        chunk.length,
      );
      const results = SaveResults.safeParse(answer);
      if (!results.success || results.data.length !== chunk.length)
        throw new CrmError({
          crm: 'salesforce',
          status: 502,
          message: `write scores: expected ${chunk.length} results in order, got an unexpected answer`,
        });
      // Results come in input order, one per record.
      results.data.forEach((result, j) => {
        if (!result.success)
          failures.push({ lead: chunk[j]!.lead, error: new CrmError(toSalesforceFailure(result)) });
      });
    }
    return failures;
  }

  protected scoreFields(score: Score): Record<string, number | string> {
    const f = this.config.fields;
    return {
      [f.score]: score.total,
      [f.fitScore]: score.fit,
      [f.engagementScore]: score.engagement,
      [f.scoreReasons]: score.breakdown
        .slice(0, 10)
        .map((l) => l.reason)
        .join('\n')
        .slice(0, DESCRIPTION_MAX),
    };
  }
}
