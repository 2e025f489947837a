import { z } from 'zod';
import { methodNotAllowed, parseBody, type ApiAnswer, type ApiRequest } from './api.js';
import { collections } from './collections.js';
import { notFound, SfError } from './errors.js';
import { compositeGraph } from './graph.js';
import { queryPage, runQuery } from './query.js';
import { sobjects } from './sobjects.js';
import type { SalesforceState } from './state.js';
import {
  checkSubrequestHeaders,
  halted,
  ROLLED_BACK,
  runSubrequest,
  Subrequest,
  type SubResult,
} from './subrequests.js';

/** Routes a REST request to its resource; Composite and Composite Graph re-enter here for each subrequest. */

/** A composite request holds at most 25 subrequests. */
const COMPOSITE_MAX = 25;
const CompositeBody = z.object({
  allOrNone: z.boolean().default(false),
  collateSubrequests: z.boolean().optional(),
  compositeRequest: z.array(Subrequest).min(1),
});

const hasFailedRecord = (body: unknown) =>
  Array.isArray(body) &&
  (body as unknown[]).some((r) => (r as { success?: unknown } | null)?.success === false);

function composite(state: SalesforceState, req: ApiRequest): ApiAnswer {
  if (req.method !== 'POST') throw methodNotAllowed(req);
  const body = parseBody(CompositeBody, req.body);
  if (body.compositeRequest.length > COMPOSITE_MAX)
    throw new SfError(400, 'LIMIT_EXCEEDED', `Exceeded max limit of subrequests (${COMPOSITE_MAX})`);
  checkSubrequestHeaders(body.compositeRequest);
  const snapshot = body.allOrNone ? state.snapshot() : undefined;
  const done = new Map<string, SubResult>();
  const results: SubResult[] = [];
  let failed: number | undefined;
  for (const [i, sub] of body.compositeRequest.entries()) {
    if (failed !== undefined && body.allOrNone) {
      results.push(halted(sub.referenceId, ROLLED_BACK));
      continue;
    }
    const result = runSubrequest(state, sub, done, { allOrNone: body.allOrNone }, dispatch);
    results.push(result);
    done.set(sub.referenceId, result);
    // An all-or-none composite makes its collections all-or-none, so any failed record fails it.
    if (result.httpStatusCode >= 400 || (body.allOrNone && hasFailedRecord(result.body))) failed ??= i;
  }
  if (snapshot && failed !== undefined) {
    state.restore(snapshot);
    return {
      status: 200,
      body: {
        compositeResponse: results.map((r, i) => (i === failed ? r : halted(r.referenceId, ROLLED_BACK))),
      },
    };
  }
  return { status: 200, body: { compositeResponse: results } };
}

// Dispatch ----------------------------------------------------------------------------------

export function dispatch(state: SalesforceState, req: ApiRequest): ApiAnswer {
  const [resource, ...rest] = req.path.split('/').filter(Boolean);
  switch (resource) {
    case 'sobjects':
      return sobjects(state, req, rest);
    case 'query': {
      if (req.method !== 'GET') throw methodNotAllowed(req);
      if (rest.length === 0) return runQuery(state, req);
      const locator = /^(01g[A-Za-z0-9]+)-(\d+)$/.exec(rest[0]!);
      if (!locator || rest.length > 1)
        throw new SfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
      return queryPage(state, req, locator[1]!, Number(locator[2]));
    }
    case 'composite':
      if (rest[0] === 'sobjects') return collections(state, req, rest.slice(1));
      if (rest.length > 1 || (rest[0] !== undefined && rest[0] !== 'graph')) throw notFound();
      // Neither Composite nor Composite Graph is a resource a subrequest may name.
      if (req.composite)
        throw new SfError(
          400,
          'INVALID_INPUT',
          'A composite request cannot be a subrequest of a composite request',
        );
      return rest[0] === 'graph' ? compositeGraph(state, req, dispatch) : composite(state, req);
    case 'limits':
      return {
        status: 200,
        body: {
          DailyApiRequests: { Max: state.apiUsage.max, Remaining: state.apiUsage.max - state.apiUsage.used },
        },
      };
    default:
      throw notFound();
  }
}
