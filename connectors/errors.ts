import type { Crm } from '../src/domain/index.js';

/** Why a CRM call failed, normalized across CRMs so retry classification can stay pure. */
export interface CrmFailure {
  crm: Crm;
  /** HTTP status when known (jsforce hides it for some errors). */
  status?: number;
  /** The CRM's error code, e.g. RATE_LIMIT, REQUEST_LIMIT_EXCEEDED, VALIDATION_ERROR, UNABLE_TO_LOCK_ROW. */
  code?: string;
  /** HubSpot 429 policy: TEN_SECONDLY_ROLLING, SECONDLY or DAILY. */
  policy?: string;
  /** Server-provided wait (Retry-After or rate-limit interval), in ms. */
  retryAfterMs?: number;
  /** When a daily limit resets (epoch ms), when known: HubSpot's is midnight in the portal's time zone. */
  resetAt?: number;
  /** true for connection refused/reset, DNS, timeouts: the request may or may not have reached the CRM. */
  network?: boolean;
  /**
   * The CRM counts as unreachable (connectors/call.ts: calls in a row answered by nothing): its calls
   * are held this long, unless a probe gets an answer first. Set on a call refused unsent because of
   * it, and on the unanswered call that showed it.
   */
  unreachableForMs?: number;
  message: string;
  /** Record ids the CRM named as the cause (HubSpot's error `context.ids`), e.g. a deleted record in a batch. */
  ids?: string[];
}

export class CrmError extends Error {
  /** `cause`: what the SDK or jsforce threw, kept for logs and debugging (classification reads `failure`). */
  constructor(
    readonly failure: CrmFailure,
    options?: ErrorOptions,
  ) {
    super(
      `${failure.crm}${failure.status ? ` ${failure.status}` : ''}${failure.code ? ` ${failure.code}` : ''}: ${failure.message}`,
      options,
    );
    this.name = 'CrmError';
  }
}

export function isCrmError(err: unknown): err is CrmError {
  return err instanceof Error && err.name === 'CrmError' && 'failure' in err;
}

/** Socket and DNS error codes (Node and undici): the connection failed and any answer was lost. */
export const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
