import { z } from 'zod';
import type { ItemOutcome } from '../coalesce.js';
import { CrmError } from '../errors.js';
import type { SubRequest } from './api.js';
import { compositeError } from './errors.js';

// Composite Graph (`POST /composite/graph`): several leads' handoffs in one request that counts as
// one API call, each lead's subrequests one graph, all or nothing on its own. Pure: the request body
// and each write's outcome from the answer.

/** Graphs in one request (REST API Developer Guide, "Composite Graph Limits"; 500 nodes in all). */
export const GRAPHS_MAX = 75;

/** What each subrequest answered, by its referenceId. */
export type SubAnswers = Map<string, { status: number; body: unknown }>;

const GraphAnswer = z.object({
  graphs: z.array(
    z.object({
      graphId: z.string(),
      isSuccessful: z.boolean(),
      graphResponse: z.object({
        compositeResponse: z.array(
          z.object({ body: z.unknown(), httpStatusCode: z.number().int(), referenceId: z.string() }),
        ),
      }),
    }),
  ),
});

const graphId = (i: number) => `g${i}`;
/** referenceIds made unique across the request, whatever scope Salesforce gives them. */
const suffix = (i: number) => `_${i}`;

/**
 * One graph per write, in order. A write's subrequests must not reference each other's answers
 * (their referenceIds are renamed); no handoff's do.
 */
export function graphRequest(writes: SubRequest[][]) {
  return {
    graphs: writes.map((requests, i) => ({
      graphId: graphId(i),
      compositeRequest: requests.map((r) => ({ ...r, referenceId: `${r.referenceId}${suffix(i)}` })),
    })),
  };
}

/**
 * Each write's outcome: its subrequests' answers, or the error its graph failed with (the node
 * that caused it, not its rolled-back siblings; PROCESSING_HALTED when Salesforce stopped after too
 * many failed graphs). An answer that is no graph answer at all fails every write.
 */
export function graphOutcomes(answer: unknown, whats: string[], what: string): ItemOutcome<SubAnswers>[] {
  const parsed = GraphAnswer.safeParse(answer);
  if (!parsed.success)
    throw new CrmError({
      crm: 'salesforce',
      status: 502,
      message: `${what}: unexpected composite graph answer`,
    });
  const graphs = new Map(parsed.data.graphs.map((g) => [g.graphId, g]));
  return whats.map((itsWhat, i): ItemOutcome<SubAnswers> => {
    const graph = graphs.get(graphId(i));
    if (!graph)
      return {
        ok: false,
        error: new CrmError({
          crm: 'salesforce',
          status: 502,
          message: `${itsWhat}: no answer for its graph`,
        }),
      };
    const end = suffix(i);
    const subresponses = graph.graphResponse.compositeResponse.map((s) => ({
      ...s,
      referenceId: s.referenceId.endsWith(end) ? s.referenceId.slice(0, -end.length) : s.referenceId,
    }));
    if (!graph.isSuccessful)
      return {
        ok: false,
        error:
          compositeError(itsWhat, subresponses) ??
          new CrmError({
            crm: 'salesforce',
            status: 502,
            message: `${itsWhat}: its graph failed without a cause`,
          }),
      };
    return {
      ok: true,
      value: new Map(subresponses.map((s) => [s.referenceId, { status: s.httpStatusCode, body: s.body }])),
    };
  });
}
