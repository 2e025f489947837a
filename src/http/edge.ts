import type { Request, RequestHandler, Response } from 'express';
import type { RedisClient } from '../store/redis.js';
import type { Config } from '../config/schema.js';
import type { LeadRef } from '../domain/index.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Queues } from '../queue/queues.js';

/* What every HTTP route shares: its dependencies, errors with a status, failure reporting, enqueueing. */

export interface AppDeps {
  config: Config;
  hubspotClientSecret: string | undefined;
  /** The org Salesforce Outbound Messages must come from (SALESFORCE_ORG_ID); unset answers 503. */
  salesforceOrgId?: string | undefined;
  /** The secret last segment of the Outbound Message URL (SALESFORCE_OUTBOUND_TOKEN); unset answers 503. */
  salesforceOutboundToken?: string | undefined;
  /** The token before a rotation, accepted until Salesforce is moved to the new one. */
  salesforceOutboundTokenPrevious?: string | undefined;
  eventsSigningSecret?: string | undefined;
  queues: Queues;
  /** The connection the queues use; checked before enqueueing so a down Redis answers 503 at once. */
  redis: RedisClient;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** When set, /metrics needs `Authorization: Bearer <METRICS_TOKEN>`. */
  metricsToken?: string | undefined;
  /** Enables /admin (dashboard and admin API). */
  adminToken?: string | undefined;
  /** The lead's page in its CRM, for the dashboard's links. */
  recordUrl?: ((lead: LeadRef) => Promise<string>) | undefined;
  /** Proves the CRM token works (cached by the caller); a failure makes /readyz answer 503. */
  checkCrm?: () => Promise<void>;
  /** Longest wait for Redis to accept a job before answering 503. */
  enqueueTimeoutMs?: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Counts and logs a failed request; returns its status and the message fit for the caller (no
 * internals on unexpected errors). Also used by routers with their own error format.
 */
export function reportFailure(
  deps: Pick<AppDeps, 'logger' | 'metrics'>,
  err: unknown,
  req: Request,
  res: Response,
): { status: number; message: string } {
  const status = errorStatus(err);
  const message = status >= 500 && !(err instanceof HttpError) ? 'internal error' : (err as Error).message;
  // A body left unread is not waited for: the connection closes after the answer.
  if (!req.complete) res.set('connection', 'close');
  // baseUrl: inside a mounted router, req.path is relative to the mount point.
  let path = req.baseUrl + req.path;
  if (path.startsWith('/webhooks/')) {
    const source = path.split('/')[2] ?? 'unknown';
    deps.metrics.webhookRequests.inc({ source, status: String(status) });
    // What follows the source may be its URL secret: never logged.
    path = `/webhooks/${source}`;
  }
  deps.logger[status >= 500 ? 'error' : 'warn'](
    { requestId: requestIdOf(res), path, status, err: (err as Error).message },
    'request failed',
  );
  return { status, message };
}

/**
 * 413 at once when Content-Length announces more than `limit`: the body parser would first wait for
 * the whole body, which a client announcing gigabytes and sending nothing never delivers.
 */
export function refuseAnnouncedOver(limit: number): RequestHandler {
  return (req, _res, next) => {
    if (Number(req.get('content-length')) > limit)
      throw new HttpError(413, `request body too large: more than ${limit} bytes`);
    next();
  };
}

/** The token of an `Authorization: Bearer …` header, if there is one. */
export function bearerToken(req: Request): string | undefined {
  return /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
}

export function requestIdOf(res: Response): string {
  return String(res.locals.requestId);
}

export function bodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

export async function enqueueOr503(deps: AppDeps, enqueue: () => Promise<void>): Promise<void> {
  if (deps.redis.status !== 'ready') throw new HttpError(503, 'queue unavailable, retry later');
  try {
    await withTimeout(enqueue(), deps.enqueueTimeoutMs ?? 2_000, 'enqueue timed out');
  } catch (err) {
    deps.logger.error({ err: (err as Error).message }, 'enqueue failed');
    throw new HttpError(503, 'queue unavailable, retry later');
  }
}

function errorStatus(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  // body-parser errors carry their status (413 too large, 400 bad encoding).
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
