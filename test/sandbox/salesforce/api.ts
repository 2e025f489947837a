import { z } from 'zod';
import { SfError } from './errors.js';

/** The request and answer of one REST resource, shared by top-level requests and composite subrequests. */

export interface ApiRequest {
  method: string;
  version: string;
  /** Path after `/services/data/vNN.0/`, without query string. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  header(name: string): string | undefined;
  /** Set inside a composite: nested composites are refused, and its allOrNone governs collections. */
  composite?: { allOrNone: boolean };
}

export interface ApiAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export const autoAssign = (req: ApiRequest) =>
  (req.header('sforce-auto-assign') ?? 'TRUE').toUpperCase() !== 'FALSE';

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new SfError(400, 'JSON_PARSER_ERROR', z.prettifyError(parsed.error));
  return parsed.data;
}

export function methodNotAllowed(req: ApiRequest): SfError {
  return new SfError(
    405,
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${req.method}' not allowed. Allowed are GET,PATCH,DELETE`,
  );
}

// sObject Collections -----------------------------------------------------------------------
