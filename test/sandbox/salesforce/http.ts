import express, { type NextFunction, type Request, type Response } from 'express';
import { grantToken, OAuthError } from './auth.js';
import { dispatch } from './dispatch.js';
import { answerOf } from './subrequests.js';
import { errorBody, notFound, SfError } from './errors.js';
import type { SalesforceFaults, SalesforceState } from './state.js';

/**
 * The HTTP face of the REST API: the gate every data request passes (bearer token, daily
 * allocation, injected faults), the OAuth token endpoint, and the router that dispatches the rest.
 */

export const isSalesforcePath = (path: string) => path.startsWith('/services/');
const isDataPath = (path: string) => path.startsWith('/services/data/');

function sendError(res: Response, e: SfError): void {
  res.status(e.status).json(errorBody(e));
}

/**
 * The gate of the shared middleware for Salesforce paths: bearer token, the daily allocation and
 * the per-request faults that reject a request before it counts. Answers false when it replied.
 */
export function admitSalesforce(state: SalesforceState, req: Request, res: Response): boolean {
  if (!isDataPath(req.path)) return true;
  res.set('Sforce-Limit-Info', state.limitInfo());
  const token = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (!state.acceptsToken(token) || takeFault(state, 'invalidSession')) {
    sendError(res, new SfError(401, 'INVALID_SESSION_ID', 'Session expired or invalid'));
    return false;
  }
  if (takeFault(state, 'requestLimitExceeded') || !state.meter()) {
    sendError(res, new SfError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'));
    return false;
  }
  res.set('Sforce-Limit-Info', state.limitInfo());
  return true;
}

function takeFault(state: SalesforceState, name: keyof SalesforceFaults): boolean {
  if (state.faults[name] <= 0) return false;
  state.faults[name]--;
  return true;
}

/** The body of an injected 5xx on a Salesforce path: REST error list, or OAuth error. */
export function salesforceServerError(path: string, status: number): unknown {
  if (!isDataPath(path)) return { error: 'unknown_error', error_description: 'retry your request' };
  return status === 500
    ? [
        {
          message:
            'An unexpected error occurred. Please include this ErrorId if you contact support: 1986427391-12345 (-1023453461)',
          errorCode: 'UNKNOWN_EXCEPTION',
        },
      ]
    : [{ message: 'Service temporarily unavailable (injected)', errorCode: 'SERVER_UNAVAILABLE' }];
}

export function salesforceRouter(state: SalesforceState): express.Router {
  const r = express.Router();

  r.post('/services/oauth2/token', express.urlencoded({ extended: false }), (req, res) => {
    try {
      res.json(grantToken(state, req.body, `${req.protocol}://${req.get('host') ?? '127.0.0.1'}`));
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      res.status(err.status).json({ error: err.error, error_description: err.message });
    }
  });

  r.use('/services/data', express.json({ limit: '50mb' }), (req, res) => {
    if (takeFault(state, 'serverError')) {
      res.status(503).json(salesforceServerError(req.originalUrl, 503));
      return;
    }
    const url = new URL(req.originalUrl, 'http://sandbox');
    const route = /^\/services\/data\/v(\d+\.\d)\/(.*)$/.exec(url.pathname);
    const answer = answerOf(() => {
      if (!route) throw notFound();
      return dispatch(state, {
        method: req.method,
        version: route[1]!,
        path: route[2]!,
        query: url.searchParams,
        body: req.body,
        header: (name) => req.get(name),
      });
    });
    res.status(answer.status).set(answer.headers ?? {});
    if (answer.body === undefined) res.end();
    else res.json(answer.body);
  });

  r.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    // express.json's rejects, in Salesforce's words.
    if (
      isDataPath(req.originalUrl) &&
      err instanceof Error &&
      'type' in err &&
      err.type === 'entity.parse.failed'
    ) {
      sendError(res, new SfError(400, 'JSON_PARSER_ERROR', `Unexpected character: ${err.message}`));
      return;
    }
    next(err);
  });
  return r;
}
