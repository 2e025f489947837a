import { z } from 'zod';
import type { ApiAnswer, ApiRequest } from './api.js';
import { errorBody, SfError } from './errors.js';
import type { SalesforceState } from './state.js';

/**
 * What Composite and Composite Graph share: the subrequest shape, `@{ref.path}` references to
 * earlier answers, and running one subrequest through the REST dispatcher (passed in, as it
 * re-enters for every subrequest).
 */

export const Subrequest = z.object({
  method: z.enum(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']),
  url: z.string().min(1),
  referenceId: z.string().regex(/^[A-Za-z0-9_]+$/, 'referenceId may hold only letters, digits and _'),
  body: z.unknown().optional(),
  httpHeaders: z.record(z.string(), z.string()).optional(),
});
export type Subrequest = z.infer<typeof Subrequest>;

export interface SubResult {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}

export type Dispatch = (state: SalesforceState, req: ApiRequest) => ApiAnswer;

export const ROLLED_BACK =
  'The transaction was rolled back since another operation in the same transaction failed.';

export const halted = (referenceId: string, message: string): SubResult => ({
  body: [{ errorCode: 'PROCESSING_HALTED', message }],
  httpHeaders: {},
  httpStatusCode: 400,
  referenceId,
});

/** Subrequests inherit these from the top-level request; naming them in httpHeaders fails it (400). */
const INHERITED_HEADERS = new Set(['accept', 'authorization', 'content-type']);

export function checkSubrequestHeaders(subs: Subrequest[]): void {
  for (const sub of subs)
    for (const name of Object.keys(sub.httpHeaders ?? {}))
      if (INHERITED_HEADERS.has(name.toLowerCase()))
        throw new SfError(
          400,
          'INVALID_INPUT',
          `The ${name} header is not allowed in a subrequest: subrequests inherit it from the top-level request`,
        );
}

const REFERENCE = /@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}/g;

/** The referenceIds a subrequest's url and body name. */
export function referencesOf(sub: Subrequest): Set<string> {
  const text = `${sub.url} ${JSON.stringify(sub.body ?? null)}`;
  return new Set([...text.matchAll(REFERENCE)].map((m) => m[1]!));
}

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

/** A REST URL as subrequests name it: from the root, with the API version. */
export const DATA_URL = /^\/services\/data\/v(\d+\.\d)\/(.*)$/;

/** Runs one subrequest (references resolved against `done`) and answers its result. */
export function runSubrequest(
  state: SalesforceState,
  sub: Subrequest,
  done: Map<string, SubResult>,
  composite: NonNullable<ApiRequest['composite']>,
  dispatch: Dispatch,
): SubResult {
  const headers = new Map(Object.entries(sub.httpHeaders ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const answer = answerOf(() => {
    const url = new URL(String(resolveReferences(sub.url, done)), 'http://composite');
    const route = DATA_URL.exec(url.pathname);
    if (!route) throw new SfError(400, 'INVALID_INPUT', `The URL ${sub.url} is not a REST API resource`);
    return dispatch(state, {
      method: sub.method,
      version: route[1]!,
      path: route[2]!,
      query: url.searchParams,
      body: resolveReferences(sub.body, done),
      header: (name) => headers.get(name.toLowerCase()),
      composite,
    });
  });
  return {
    body: answer.body ?? null,
    httpHeaders: answer.headers ?? {},
    httpStatusCode: answer.status,
    referenceId: sub.referenceId,
  };
}

export function answerOf(run: () => ApiAnswer): ApiAnswer {
  try {
    return run();
  } catch (err) {
    if (err instanceof SfError) return { status: err.status, body: errorBody(err) };
    throw err;
  }
}
