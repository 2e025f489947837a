import { z } from 'zod';
import { methodNotAllowed, parseBody, type ApiAnswer, type ApiRequest } from './api.js';
import { SfError } from './errors.js';
import type { SalesforceState } from './state.js';
import {
  checkSubrequestHeaders,
  DATA_URL,
  halted,
  referencesOf,
  ROLLED_BACK,
  runSubrequest,
  Subrequest,
  type Dispatch,
  type SubResult,
} from './subrequests.js';

/**
 * Composite Graph (`POST /composite/graph`, API 50.0 and later): several graphs of subrequests in
 * one request that counts as one API call, each graph a transaction of its own — all of its nodes
 * or none — within the limits of the REST API Developer Guide's "Composite Graph Limits".
 */

/** Graphs in one payload. */
const GRAPHS_MAX = 75;
/** Nodes in one payload (so also in one graph). */
const NODES_MAX = 500;
/** Depth of a graph: a node referencing another is one level deeper. */
const DEPTH_MAX = 15;
/** Different nodes in one payload: another API version, HTTP method or sObject type makes a node different. */
const DISTINCT_NODES_MAX = 15;
/** Once more graphs than this failed, the remaining graphs are not processed (PROCESSING_HALTED). */
const FAILURES_MAX = 14;

const GraphBody = z.object({
  graphs: z
    .array(z.object({ graphId: z.string().min(1), compositeRequest: z.array(Subrequest).min(1) }))
    .min(1),
});
type Graph = z.infer<typeof GraphBody>['graphs'][number];

interface GraphResult {
  graphId: string;
  graphResponse: { compositeResponse: SubResult[] };
  isSuccessful: boolean;
}

const refuse = (message: string) => new SfError(400, 'INVALID_INPUT', message);
const overLimit = (message: string) => new SfError(400, 'LIMIT_EXCEEDED', message);

/**
 * A node's kind (version, method, sObject) for the distinct-nodes limit. Only sObject resources
 * may be nodes: POST /sobjects/{type}, GET/PATCH/DELETE /sobjects/{type}/{id}, and
 * /sobjects/{type}/{field}/{externalId} — no query, no collections, no other resource.
 */
function nodeKind(sub: Subrequest): string {
  const route = DATA_URL.exec(sub.url.split('?')[0]!);
  const [resource, type, ...rest] = route?.[2]!.split('/') ?? [];
  const allowed =
    resource === 'sobjects' && type && rest[0] !== 'describe'
      ? [['POST'], ['GET', 'PATCH', 'DELETE'], ['GET', 'PATCH', 'POST', 'DELETE']][rest.length]
      : undefined;
  if (!allowed?.includes(sub.method))
    throw refuse(`Composite graph does not support ${sub.method} ${sub.url}: only sObject resources`);
  return `${route![1]} ${sub.method} ${type!.toLowerCase()}`;
}

/** The payload-wide checks, before anything is written: a refused payload writes nothing. */
function checkPayload(graphs: Graph[]): void {
  if (graphs.length > GRAPHS_MAX)
    throw overLimit(`Exceeded max limit of graphs (${GRAPHS_MAX}): ${graphs.length}`);
  const nodes = graphs.flatMap((g) => g.compositeRequest);
  if (nodes.length > NODES_MAX)
    throw overLimit(`Exceeded max limit of nodes (${NODES_MAX}): ${nodes.length}`);
  checkSubrequestHeaders(nodes);
  const kinds = new Set(nodes.map(nodeKind));
  if (kinds.size > DISTINCT_NODES_MAX)
    throw overLimit(`Exceeded max limit of different nodes (${DISTINCT_NODES_MAX}): ${kinds.size}`);
  const ids = new Set<string>();
  for (const { graphId, compositeRequest } of graphs) {
    // A graphId is unique within the request and begins with an alphanumeric character.
    if (!/^[A-Za-z0-9]/.test(graphId)) throw refuse(`graphId ${graphId} must begin with a letter or digit`);
    if (ids.has(graphId)) throw refuse(`Duplicate graphId: ${graphId}`);
    ids.add(graphId);
    const depth = new Map<string, number>();
    for (const sub of compositeRequest) {
      const below = [...referencesOf(sub)].map((ref) => depth.get(ref) ?? 0);
      depth.set(sub.referenceId, 1 + Math.max(0, ...below));
    }
    if (Math.max(...depth.values()) > DEPTH_MAX)
      throw overLimit(`Graph ${graphId} is deeper than ${DEPTH_MAX}`);
  }
}

/** One graph as one transaction: the first failing node rolls the graph back and halts the others. */
function runGraph(state: SalesforceState, graph: Graph, dispatch: Dispatch): GraphResult {
  const snapshot = state.snapshot();
  // References resolve within the graph only.
  const done = new Map<string, SubResult>();
  const results: SubResult[] = [];
  let failed: number | undefined;
  for (const [i, sub] of graph.compositeRequest.entries()) {
    if (failed !== undefined) {
      results.push(halted(sub.referenceId, ROLLED_BACK));
      continue;
    }
    const result = runSubrequest(state, sub, done, { allOrNone: true }, dispatch);
    results.push(result);
    done.set(sub.referenceId, result);
    if (result.httpStatusCode >= 400) failed = i;
  }
  if (failed === undefined)
    return { graphId: graph.graphId, graphResponse: { compositeResponse: results }, isSuccessful: true };
  state.restore(snapshot);
  return {
    graphId: graph.graphId,
    graphResponse: {
      compositeResponse: results.map((r, i) => (i === failed ? r : halted(r.referenceId, ROLLED_BACK))),
    },
    isSuccessful: false,
  };
}

export function compositeGraph(state: SalesforceState, req: ApiRequest, dispatch: Dispatch): ApiAnswer {
  if (req.method !== 'POST') throw methodNotAllowed(req);
  const { graphs } = parseBody(GraphBody, req.body);
  checkPayload(graphs);
  let failures = 0;
  const results = graphs.map((graph): GraphResult => {
    if (failures > FAILURES_MAX)
      return {
        graphId: graph.graphId,
        graphResponse: {
          compositeResponse: graph.compositeRequest.map((s) =>
            halted(
              s.referenceId,
              `Processing halted: more than ${FAILURES_MAX} graphs of the request failed`,
            ),
          ),
        },
        isSuccessful: false,
      };
    const result = runGraph(state, graph, dispatch);
    if (!result.isSuccessful) failures++;
    return result;
  });
  // The top level answers 200 whatever the graphs did.
  return { status: 200, body: { graphs: results } };
}
