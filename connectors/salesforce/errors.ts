import { CrmError, NETWORK_CODES, type CrmFailure } from '../errors.js';

/** One Salesforce error entry, whichever shape it came in. */
interface ErrorEntry {
  code?: string;
  message: string;
}

const NETWORK_NAMES = new Set(['AbortError', 'TimeoutError', 'FetchError']);
/** Network failures that reach us only as text (node-fetch messages, undici's "fetch failed", wrapped errors). */
const NETWORK_TEXT =
  /\b(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_SOCKET)\b|socket hang up|fetch failed|network timeout|request was aborted/i;

/** Siblings Salesforce fails because another part of the same all-or-none request failed. */
const SIBLING_CODES = new Set(['PROCESSING_HALTED', 'ALL_OR_NONE_OPERATION_ROLLED_BACK']);
/** A row lock, also when a trigger or flow wraps it in its own error's text. */
const LOCK_ROW = /UNABLE_TO_LOCK_ROW|unable to obtain exclusive access to this record/i;
/** jsforce's wrapper when its session refresh failed (or our refresh guard refused). */
const REFRESH_FAILED = /^Unable to refresh session due to: /;

/**
 * HTTP status for an error code: jsforce hides the status, and collection results carry none. The
 * codes Salesforce documents with a non-400 status; everything else it answers with 400.
 */
const STATUS_BY_CODE: Record<string, number> = {
  INVALID_SESSION_ID: 401,
  INVALID_AUTH_HEADER: 401,
  REQUEST_LIMIT_EXCEEDED: 403,
  INSUFFICIENT_ACCESS: 403,
  API_DISABLED_FOR_ORG: 403,
  API_CURRENTLY_DISABLED: 403,
  NOT_FOUND: 404,
  ENTITY_IS_DELETED: 404,
  METHOD_NOT_ALLOWED: 405,
  UNKNOWN_EXCEPTION: 500,
  SERVER_UNAVAILABLE: 503,
};

function statusOf(code: string | undefined): number {
  if (!code) return 400;
  const http = /^ERROR_HTTP_(\d{3})$/.exec(code);
  return http ? Number(http[1]) : (STATUS_BY_CODE[code] ?? 400);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** An error entry: REST `{errorCode, message}`, collections `{statusCode, message}` (jsforce types say errorCode). */
function entryOf(v: unknown): ErrorEntry | undefined {
  if (!isObject(v)) return undefined;
  const code = text(v.errorCode) ?? text(v.statusCode);
  const message = text(v.message);
  if (code === undefined && message === undefined) return undefined;
  return { code, message: message ?? code ?? '' };
}

/** Every entry inside a body: a list of errors, one error, or a save result's `errors`. */
function entriesOf(body: unknown): ErrorEntry[] {
  if (Array.isArray(body)) return body.flatMap(entriesOf);
  if (isObject(body) && Array.isArray(body.errors)) return body.errors.flatMap(entriesOf);
  const entry = entryOf(body);
  return entry ? [entry] : [];
}

/**
 * The failure a list of error entries amounts to: the real cause rather than its rolled-back
 * siblings, and a row lock wherever it hides (its own code, a sibling, or a trigger's message).
 */
function fromEntries(entries: ErrorEntry[], status: number | undefined, fallback: string): CrmFailure {
  const causes = entries.filter((e) => !SIBLING_CODES.has(e.code ?? ''));
  const shown = causes.length ? causes : entries;
  const lockRow = entries.some((e) => e.code === 'UNABLE_TO_LOCK_ROW' || LOCK_ROW.test(e.message));
  const code = lockRow ? 'UNABLE_TO_LOCK_ROW' : shown[0]?.code;
  const message = [...new Set(shown.map((e) => e.message))].join('; ') || fallback;
  return { crm: 'salesforce', status: status ?? statusOf(shown[0]?.code), code, message };
}

/**
 * Pure: what went wrong, from anything a Salesforce call can fail with — a jsforce error
 * (`errorCode`, raw `data`, no HTTP status), a composite subresponse (`httpStatusCode` + error
 * list), a collections save result or record error (`statusCode` and/or `errorCode`), a raw REST
 * error list, or a network error.
 */
export function toSalesforceFailure(input: unknown): CrmFailure {
  if (Array.isArray(input)) return fromEntries(entriesOf(input), undefined, 'request failed');
  if (!isObject(input)) return { crm: 'salesforce', message: String(input) };

  // Composite subresponse.
  if (typeof input.httpStatusCode === 'number') {
    const entries = entriesOf(input.body);
    const status = input.httpStatusCode;
    return entries.length
      ? fromEntries(entries, status, `HTTP ${status}`)
      : { crm: 'salesforce', status, message: `HTTP ${status}` };
  }

  const isError = input instanceof Error;
  // Collections save result, or one of its record errors.
  if (!isError) {
    const entries = entriesOf(input);
    if (entries.length) return fromEntries(entries, undefined, 'record failed');
  }

  const name = text(input.name);
  const message = text(input.message) ?? (isError ? input.name : JSON.stringify(input).slice(0, 300));
  const sysCode = text(input.code) ?? text(input.errno);
  const cause = isObject(input.cause) ? input.cause : undefined;
  const causeCode = cause ? (text(cause.code) ?? text(cause.errno)) : undefined;
  const network =
    (sysCode !== undefined && NETWORK_CODES.has(sysCode)) ||
    (causeCode !== undefined && NETWORK_CODES.has(causeCode)) ||
    (name !== undefined && NETWORK_NAMES.has(name)) ||
    NETWORK_TEXT.test(message);
  if (network)
    return {
      crm: 'salesforce',
      code: sysCode ?? causeCode,
      network: true,
      message: causeCode && !message.includes(causeCode) ? `${message} (${causeCode})` : message,
    };

  if (REFRESH_FAILED.test(message))
    return { crm: 'salesforce', status: 401, code: 'INVALID_SESSION_ID', message };

  // jsforce HttpApiError: `errorCode` (= name), `data` the raw error entry or entries.
  const errorCode = text(input.errorCode);
  if (errorCode !== undefined) {
    const fromData = entriesOf(input.data);
    const entries = fromData.length ? fromData : [{ code: errorCode, message }];
    return fromEntries(entries, undefined, message);
  }
  return { crm: 'salesforce', message };
}

/**
 * Pure: the failure of a composite request, from its subresponses. With allOrNone every other
 * subrequest reports PROCESSING_HALTED; the one that caused it is the one worth reporting.
 * Undefined when every subrequest succeeded.
 */
export function compositeFailure(
  subresponses: { httpStatusCode: number; body?: unknown; referenceId: string }[],
): (CrmFailure & { referenceId: string }) | undefined {
  const failed = subresponses.filter((s) => s.httpStatusCode >= 400);
  if (!failed.length) return undefined;
  const cause =
    failed.find((s) => !entriesOf(s.body).every((e) => SIBLING_CODES.has(e.code ?? ''))) ?? failed[0]!;
  return { ...toSalesforceFailure(cause), referenceId: cause.referenceId };
}

/**
 * The error an all-or-none composite (or one graph of a Composite Graph) failed with, naming what it
 * was for and the subrequest that caused it; undefined when every subrequest succeeded.
 */
export function compositeError(
  what: string,
  subresponses: { httpStatusCode: number; body?: unknown; referenceId: string }[],
): CrmError | undefined {
  const failure = compositeFailure(subresponses);
  if (!failure) return undefined;
  const { referenceId, ...rest } = failure;
  return new CrmError({ ...rest, message: `${what} (${referenceId}): ${rest.message}` });
}
