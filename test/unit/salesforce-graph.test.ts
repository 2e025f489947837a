import { describe, expect, it } from 'vitest';
import { isCrmError } from '../../connectors/errors.js';
import type { SubRequest } from '../../connectors/salesforce/api.js';
import { graphOutcomes, graphRequest } from '../../connectors/salesforce/graph.js';
import { classifyFailure } from '../../src/queue/retry.js';

const V = '/services/data/v62.0';
const write = (id: string): SubRequest[] => [
  {
    method: 'PATCH',
    url: `${V}/sobjects/Lead/${id}`,
    referenceId: 'record',
    body: { Status: 'Marketing Qualified' },
    httpHeaders: { 'Sforce-Auto-Assign': 'FALSE' },
  },
  { method: 'POST', url: `${V}/sobjects/Task`, referenceId: 'task', body: { WhoId: id } },
];
const node = (referenceId: string, httpStatusCode: number, body: unknown) => ({
  referenceId,
  httpStatusCode,
  body,
  httpHeaders: {},
});
const halted = (referenceId: string) =>
  node(referenceId, 400, [{ errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back' }]);
const failure = (outcome: { ok: boolean; error?: unknown } | undefined) => {
  const error = outcome && !outcome.ok ? outcome.error : undefined;
  if (!isCrmError(error)) throw new Error('expected a CrmError');
  return error;
};

describe('Composite Graph mapping (pure)', () => {
  it('makes one graph per write, ids and referenceIds unique across the request, headers kept', () => {
    const body = graphRequest([write('00Q1'), write('00Q2')]);
    expect(body.graphs.map((g) => g.graphId)).toEqual(['g0', 'g1']);
    expect(body.graphs.map((g) => g.compositeRequest.map((r) => r.referenceId))).toEqual([
      ['record_0', 'task_0'],
      ['record_1', 'task_1'],
    ]);
    expect(body.graphs[1]!.compositeRequest[0]).toMatchObject({
      method: 'PATCH',
      url: `${V}/sobjects/Lead/00Q2`,
      httpHeaders: { 'Sforce-Auto-Assign': 'FALSE' },
    });
  });

  it("answers each write its own subresponses by its referenceIds, or its graph's cause", () => {
    const answer = {
      graphs: [
        // Answers matched by graphId, whatever their order.
        {
          graphId: 'g1',
          isSuccessful: false,
          graphResponse: {
            compositeResponse: [
              halted('record_1'),
              node('task_1', 400, [
                { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Blocked', fields: [] },
              ]),
            ],
          },
        },
        {
          graphId: 'g0',
          isSuccessful: true,
          graphResponse: {
            compositeResponse: [
              node('record_0', 204, null),
              node('task_0', 201, { id: '00T1', success: true }),
            ],
          },
        },
      ],
    };
    const [ok, failed] = graphOutcomes(answer, ['hand over Lead 00Q1', 'hand over Lead 00Q2'], 'hand over 2');
    expect(ok).toEqual({
      ok: true,
      value: new Map([
        ['record', { status: 204, body: null }],
        ['task', { status: 201, body: { id: '00T1', success: true } }],
      ]),
    });
    const error = failure(failed);
    expect(error.failure).toMatchObject({ code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', status: 400 });
    expect(error.message).toContain('hand over Lead 00Q2 (task): Blocked');
    expect(classifyFailure(error.failure, 0).action).toBe('fail');
  });

  it('retries graphs Salesforce halted or did not answer, and a row lock, with backoff', () => {
    const answer = {
      graphs: [
        {
          graphId: 'g0',
          isSuccessful: false,
          graphResponse: {
            compositeResponse: [
              node('record_0', 400, [
                {
                  errorCode: 'UNABLE_TO_LOCK_ROW',
                  message: 'unable to obtain exclusive access to this record',
                },
              ]),
              halted('task_0'),
            ],
          },
        },
        {
          graphId: 'g1',
          isSuccessful: false,
          graphResponse: { compositeResponse: [halted('record_1'), halted('task_1')] },
        },
      ],
    };
    const outcomes = graphOutcomes(answer, ['a', 'b', 'c'], 'hand over 3');
    expect(outcomes.map((o) => failure(o).failure.code)).toEqual([
      'UNABLE_TO_LOCK_ROW',
      'PROCESSING_HALTED',
      undefined,
    ]);
    for (const o of outcomes) expect(classifyFailure(failure(o).failure, 0).action).toBe('backoff');
  });

  it('fails the whole batch on an answer that is not a graph answer', () => {
    expect(() => graphOutcomes([{ errorCode: 'X', message: 'x' }], ['a'], 'hand over 1')).toThrow(
      /unexpected composite graph answer/,
    );
  });
});
