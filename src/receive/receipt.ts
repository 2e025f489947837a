import { z } from 'zod';
import type { IngestJob, IngestSource } from '../queue/catalog.js';

/*
 * What every receiver shares: a delivery comes in as raw bytes, a receipt goes out. Receivers are
 * pure (no I/O, no clock: the route passes the time in); the route enqueues and answers.
 */

/** One HTTP delivery as the route hands it over, before anything is parsed. */
export interface Delivery {
  method: string;
  /** Scheme and host the request reached us on, e.g. `https://leads.example.com`. */
  origin: string;
  /** Path and query exactly as sent. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  receivedAt: number;
  requestId: string;
}

/** Who is calling, as known before the body is read. */
export interface Caller {
  /** The last path segment after `/webhooks/<name>/`, for senders whose secret is in the URL. */
  pathToken: string | undefined;
  /** The client address, through `http.trustProxy` proxies. */
  ip: string;
  headers: Delivery['headers'];
  /** Fingerprint (hex, any case and colons) of a verified TLS client certificate, when TLS ends here. */
  peerCertificate: string | undefined;
}

/** How the sender is answered: JSON, or XML for senders that speak SOAP. */
export type Reply = { json: unknown } | { xml: string };

/** A log line a receiver asks for: the route adds the request id and logs it. */
export interface Note {
  message: string;
  detail: Record<string, unknown>;
}

export interface Accepted {
  ok: true;
  /** Absent when nothing in the delivery needs processing: acknowledged all the same. */
  job?: IngestJob;
  reply: Reply;
  /** Items dropped at the edge, counted under the receiver's source once the job is queued. */
  counted?: { ignored?: number; duplicate?: number };
  /** Logged at debug once the job is queued. */
  note?: Note;
}

export interface Rejected {
  ok: false;
  status: number;
  reason: string;
  /** Logged as a warning, for what the reason sent back does not say. */
  note?: Note;
}

export type Receipt = Accepted | Rejected;

/** One webhook source: its raw delivery → the one ingest shape, or a rejection with its status. */
export interface WebhookReceiver {
  source: IngestSource;
  receive(delivery: Delivery): Receipt;
  /**
   * Checked before the body is read, so a stranger costs no parse (absent: anyone may deliver, the
   * signature over the body decides). A receiver with it is mounted at `/webhooks/<name>/<token>`.
   */
  admit?(caller: Caller): Rejected | undefined;
  /** Its own body limit (default `webhooks.maxBodyBytes`) and deliveries read and parsed at once. */
  limits?: { maxBodyBytes: number; maxConcurrent: number };
  /** How this sender is answered a failure (default: `{error}` as JSON). */
  fault?(status: number, message: string): Reply;
}

/** Where a job came from, as the ingest shape records it. */
export type Origin = Pick<Delivery, 'receivedAt'> & { requestId?: string | undefined };

export function reject(status: number, reason: string, note?: Note): Rejected {
  return note ? { ok: false, status, reason, note } : { ok: false, status, reason };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict UTF-8, JSON.parse and zod at the boundary: anything else is a 400 that says what is wrong.
 * Invalid UTF-8 is refused, not stored as U+FFFD: a signed body means exactly its bytes.
 */
export function parseJson<T extends z.ZodType>(
  body: Buffer,
  schema: T,
): { ok: true; value: z.infer<T> } | Rejected {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return reject(400, 'body is not UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return reject(400, 'body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return reject(400, `unexpected payload: ${z.prettifyError(parsed.error)}`);
  return { ok: true, value: parsed.data };
}
