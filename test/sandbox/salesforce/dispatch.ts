import { z } from 'zod';
import { methodNotAllowed, parseBody, type ApiAnswer, type ApiRequest } from './api.js';
import { collections } from './collections.js';
import { errorBody, notFound, SfError } from './errors.js';
import { queryPage, runQuery } from './query.js';
import { sobjects } from './sobjects.js';
import type { SalesforceState } from './state.js';

/** Routes a REST request to its resource; Composite re-enters here for each subrequest. */

const COMPOSITE_MAX = 25;
const CompositeBody = z.object({
  allOrNone: z.boolean().default(false),
  collateSubrequests: z.boolean().optional(),
  compositeRequest: z
    .array(
      z.object({
        method: z.enum(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']),
        url: z.string().min(1),
        referenceId: z.string().regex(/^[A-Za-z0-9_]+$/, 'referenceId may hold only letters, digits and _'),
        body: z.unknown().optional(),
        httpHeaders: z.record(z.string(), z.string()).optional(),
      }),
    )
    .min(1),
});

interface SubResult {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}

const halted = (referenceId: string, message: string): SubResult => ({
  body: [{ errorCode: 'PROCESSING_HALTED', message }],
  httpHeaders: {},
  httpStatusCode: 400,
  referenceId,
});
const ROLLED_BACK = 'The transaction was rolled back since another operation in the same transaction failed.';

const REFERENCE = /@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}/g;

/** Replaces `@{refId.path}` with values from earlier subresponses; a lone reference keeps its type. */
function resolveReferences(value: unknown, done: Map<string, SubResult>): unknown {
  const lookupRef = (ref: string, path: string): unknown => {
    const earlier = done.get(ref);
    let current: unknown = earlier && earlier.httpStatusCode < 400 ? earlier.body : undefined;
    for (const [, key, index] of path.matchAll(/\.([A-Za-z0-9_]+)|\[(\d+)\]/g))
      current =
        current !== null && typeof current === 'object'
          ? (current as Record<string, unknown>)[key ?? index!]
          : undefined;
    if (current === undefined || current === null)
      throw new SfError(
        400,
        'PROCESSING_HALTED',
        `Invalid reference specified. No value for ${ref}${path} found in ${ref}. Provided referenceId ids: [${[...done.keys()].join(', ')}]`,
      );
    return current;
  };
  if (typeof value === 'string') {
    const whole = new RegExp(`^${REFERENCE.source}$`).exec(value);
    if (whole) return lookupRef(whole[1]!, whole[2]!);
    return value.replace(REFERENCE, (_m, ref: string, path: string) => String(lookupRef(ref, path)));
  }
  if (Array.isArray(value)) return value.map((v) => resolveReferences(v, done));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveReferences(v, done)]));
  return value;
}

const hasFailedRecord = (body: unknown) =>
  Array.isArray(body) &&
  (body as unknown[]).some((r) => (r as { success?: unknown } | null)?.success === false);

function composite(state: SalesforceState, req: ApiRequest): ApiAnswer {
  if (req.method !== 'POST') throw methodNotAllowed(req);
  const body = parseBody(CompositeBody, req.body);
  if (body.compositeRequest.length > COMPOSITE_MAX)
    throw new SfError(400, 'LIMIT_EXCEEDED', `Exceeded max limit of subrequests (${COMPOSITE_MAX})`);
  const snapshot = body.allOrNone ? state.snapshot() : undefined;
  const done = new Map<string, SubResult>();
  const results: SubResult[] = [];
  let failed: number | undefined;
  for (const [i, sub] of body.compositeRequest.entries()) {
    if (failed !== undefined && body.allOrNone) {
      results.push(halted(sub.referenceId, ROLLED_BACK));
      continue;
    }
    const headers = new Map(Object.entries(sub.httpHeaders ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const answer = answerOf(() => {
      const url = new URL(String(resolveReferences(sub.url, done)), 'http://composite');
      const route = /^\/services\/data\/v(\d+\.\d)\/(.*)$/.exec(url.pathname);
      if (!route) throw new SfError(400, 'INVALID_INPUT', `The URL ${sub.url} is not a REST API resource`);
      return dispatch(state, {
        method: sub.method,
        version: route[1]!,
        path: route[2]!,
        query: url.searchParams,
        body: resolveReferences(sub.body, done),
        header: (name) => headers.get(name.toLowerCase()),
        composite: { allOrNone: body.allOrNone },
      });
    });
    const result: SubResult = {
      body: answer.body ?? null,
      httpHeaders: answer.headers ?? {},
      httpStatusCode: answer.status,
      referenceId: sub.referenceId,
    };
    results.push(result);
    done.set(sub.referenceId, result);
    // An all-or-none composite makes its collections all-or-none, so any failed record fails it.
    if (answer.status >= 400 || (body.allOrNone && hasFailedRecord(answer.body))) failed ??= i;
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

export function answerOf(run: () => ApiAnswer): ApiAnswer {
  try {
    return run();
  } catch (err) {
    if (err instanceof SfError) return { status: err.status, body: errorBody(err) };
    throw err;
  }
}

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
      if (rest.length) throw notFound();
      if (req.composite)
        throw new SfError(
          400,
          'INVALID_INPUT',
          'A composite request cannot be a subrequest of a composite request',
        );
      return composite(state, req);
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
