import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { HubSpotState, hubspotRouter, type Properties } from './hubspot.js';
import {
  SalesforceState,
  admitSalesforce,
  isSalesforcePath,
  salesforceRouter,
  salesforceServerError,
  SalesforceFaults,
} from './salesforce.js';
import { StreamingState, salesforceStreamingRouter } from './salesforce-streaming.js';

/**
 * The local CRM sandbox: an HTTP server on 127.0.0.1 that speaks the CRM endpoints leadflow uses,
 * with injectable latency, a rate limit and faults, so the real CRM clients run end to end in
 * tests, the demo and the benchmark. Drive it in-process or over `/__sandbox` from another process.
 */

export const Faults = z.object({
  /** Share of requests answered 500/502/503. */
  errorRate: z.number().min(0).max(1).default(0),
  /** Share of requests that hang for `hangMs`, then have their connection dropped. */
  timeoutRate: z.number().min(0).max(1).default(0),
  hangMs: z.number().int().min(0).default(15_000),
  /** The next `count` requests get a 429 with this policy. */
  rateLimit429: z
    .object({ policy: z.enum(['TEN_SECONDLY_ROLLING', 'DAILY']), count: z.number().int().min(0) })
    .optional(),
  /** Every connection is destroyed without an answer. */
  down: z.boolean().default(false),
  /**
   * The CRM takes connections and requests but never answers them (an overloaded edge, a stuck load
   * balancer): held until the client gives up, also after the stall ends.
   */
  stall: z.boolean().default(false),
  /** The next `count` matching requests take effect, then lose their answer (connection dropped). */
  loseResponse: z.object({ method: z.string(), path: z.string(), count: z.number().int().min(0) }).optional(),
});
export type Faults = z.infer<typeof Faults>;

export interface SandboxOptions {
  port?: number;
  latencyMs?: number;
  /** HubSpot's rolling window: at most `max` requests per `intervalMs`, else 429 TEN_SECONDLY_ROLLING. */
  rateLimit?: { max: number; intervalMs: number };
  /** HubSpot's search limit, per account per second (5); `false` turns it off. */
  searchPerSecond?: number | false;
  /**
   * Answer with `Transfer-Encoding: chunked` instead of a Content-Length, as api.hubapi.com does
   * (its JSON answers are streamed through its edge proxies).
   */
  chunked?: boolean;
}

export interface CallRecord {
  method: string;
  path: string;
  status: number;
  at: number;
  /** A batch request's inputs (HubSpot `inputs`), once its body was read. */
  inputs?: number;
}

export interface Sandbox {
  url: string;
  hubspot: HubSpotState;
  /** Salesforce's REST API (sObjects, query, composite, collections, OAuth) under /services. */
  salesforce: SalesforceState;
  /** Salesforce's CometD endpoint (Change Data Capture), at /cometd/<version>. */
  salesforceStreaming: StreamingState;
  calls: CallRecord[];
  /** Connections holding a request the `stall` fault never answered that the client has not closed. */
  stalledConnections(): number;
  seedContacts(contacts: { id: string; properties: Properties }[]): void;
  setLatency(ms: number): void;
  setFaults(faults: Partial<Faults>): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const hubspot = new HubSpotState();
  const salesforce = new SalesforceState();
  // The org's streaming endpoint refuses the tokens its REST API refuses.
  const salesforceStreaming = new StreamingState((token) => salesforce.acceptsToken(token));
  const calls: CallRecord[] = [];
  let latencyMs = opts.latencyMs ?? 0;
  let faults: Faults = Faults.parse({});
  const window: number[] = [];
  const searchWindow: number[] = [];
  const searchPerSecond = opts.searchPerSecond ?? 5;
  const sockets = new Set<Socket>();
  const stalled = new Set<Socket>();

  const seedContacts = (contacts: { id: string; properties: Properties }[]) => {
    // HubSpot stamps every record with its last modification; the contacts poller searches on it.
    for (const c of contacts) {
      hubspot.contacts.set(c.id, { lastmodifieddate: new Date().toISOString(), ...c.properties });
      hubspot.contactWritten(c.id);
    }
  };

  const app = express();
  app.disable('x-powered-by');

  // Control API for other processes (demo, benchmark, fault suite).
  const control = express.Router();
  control.use(express.json({ limit: '50mb' }));
  control.get('/state', (_req, res) => {
    res.json({
      contacts: Object.fromEntries(hubspot.contacts),
      notes: hubspot.notes,
      tasks: hubspot.tasks,
      salesforce: salesforce.allRecords(),
      calls: calls.length,
    });
  });
  control.post('/salesforce/faults', (req, res) => {
    const counters = SalesforceFaults.partial().parse(req.body);
    Object.assign(salesforce.faults, counters);
    res.json(salesforce.faults);
  });
  control.post('/faults', (req, res) => {
    faults = Faults.parse({ ...faults, ...z.record(z.string(), z.unknown()).parse(req.body) });
    res.json(faults);
  });
  control.post('/latency', (req, res) => {
    latencyMs = z.object({ ms: z.number().int().min(0) }).parse(req.body).ms;
    res.json({ latencyMs });
  });
  control.post('/seed', (req, res) => {
    const contacts = z
      .array(z.object({ id: z.string(), properties: z.record(z.string(), z.string()) }))
      .parse(req.body);
    seedContacts(contacts);
    res.json({ seeded: contacts.length });
  });
  app.use('/__sandbox', control);
  // Salesforce CometD (its own 'OAuth <token>' check; long-polls are held, so no injected latency).
  app.use(salesforceStreamingRouter(salesforceStreaming));

  app.use((req: Request, res: Response, next: NextFunction) => {
    const at = Date.now();
    res.on('finish', () => {
      const { inputs } = (req.body ?? {}) as { inputs?: unknown };
      calls.push({
        method: req.method,
        path: req.path,
        status: res.statusCode,
        at,
        ...(Array.isArray(inputs) ? { inputs: inputs.length } : {}),
      });
    });
    if (faults.down) {
      req.socket.destroy();
      return;
    }
    if (faults.stall) {
      stalled.add(req.socket);
      req.socket.once('close', () => stalled.delete(req.socket));
      return;
    }
    const isSalesforce = isSalesforcePath(req.path);
    const bearer = /^Bearer (\S+)/.exec(req.get('authorization') ?? '')?.[1];
    if (isSalesforce) {
      if (!admitSalesforce(salesforce, req, res)) return;
    } else if (req.path !== '/oauth/v1/token' && (!bearer || hubspot.revokedTokens.has(bearer))) {
      res.status(401).json({
        status: 'error',
        message: 'Authentication credentials not found.',
        category: 'INVALID_AUTHENTICATION',
      });
      return;
    }
    if (opts.chunked) answerChunked(res);
    const lose = faults.loseResponse;
    if (lose && lose.count > 0 && req.method === lose.method && req.path === lose.path) {
      lose.count--;
      res.end = (() => {
        req.socket.destroy();
        return res;
      }) as typeof res.end;
    }
    const respond = () => {
      if (faults.timeoutRate > 0 && Math.random() < faults.timeoutRate) {
        setTimeout(() => req.socket.destroy(), faults.hangMs).unref();
        return;
      }
      if (faults.errorRate > 0 && Math.random() < faults.errorRate) {
        const status = [500, 502, 503][Math.floor(Math.random() * 3)]!;
        res
          .status(status)
          .json(
            isSalesforce
              ? salesforceServerError(req.path, status)
              : { status: 'error', message: 'internal error (injected)', category: 'INTERNAL_ERROR' },
          );
        return;
      }
      // HubSpot's 429s; Salesforce has no rolling window (its limits are in SalesforceState).
      if (isSalesforce) {
        next();
        return;
      }
      if (faults.rateLimit429 && faults.rateLimit429.count > 0) {
        faults.rateLimit429.count--;
        const { policy } = faults.rateLimit429;
        res
          .status(429)
          .set('Retry-After', policy === 'DAILY' ? '3600' : '1')
          .json({
            status: 'error',
            errorType: 'RATE_LIMIT',
            policyName: policy,
            message: `You have reached your ${policy === 'DAILY' ? 'daily' : 'ten second'} limit.`,
          });
        return;
      }
      // Search endpoints allow 5 requests a second per account; beyond that HubSpot answers 429 with
      // no policyName and no rate-limit headers (search answers carry none).
      if (searchPerSecond && req.method === 'POST' && /^\/crm\/v3\/objects\/[^/]+\/search$/.test(req.path)) {
        const now = Date.now();
        while (searchWindow.length && searchWindow[0]! <= now - 1000) searchWindow.shift();
        if (searchWindow.length >= searchPerSecond) {
          res.status(429).json({
            status: 'error',
            message: 'You have reached your secondly limit.',
            correlationId: '00000000-0000-4000-8000-000000000000',
            category: 'RATE_LIMITS',
          });
          return;
        }
        searchWindow.push(now);
      }
      if (opts.rateLimit) {
        const { max, intervalMs } = opts.rateLimit;
        const now = Date.now();
        while (window.length && window[0]! <= now - intervalMs) window.shift();
        const remaining = max - window.length;
        res.set({
          'X-HubSpot-RateLimit-Max': String(max),
          'X-HubSpot-RateLimit-Interval-Milliseconds': String(intervalMs),
          'X-HubSpot-RateLimit-Remaining': String(Math.max(0, remaining - 1)),
        });
        if (remaining <= 0) {
          res.status(429).json({
            status: 'error',
            errorType: 'RATE_LIMIT',
            policyName: 'TEN_SECONDLY_ROLLING',
            message: 'You have reached your ten second limit.',
          });
          return;
        }
        window.push(now);
      }
      next();
    };
    if (latencyMs > 0) setTimeout(respond, latencyMs);
    else respond();
  });

  // Each CRM router handles only its own paths (Salesforce: /services/...).
  app.use(salesforceRouter(salesforce));
  app.use(hubspotRouter(hubspot));

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(opts.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const { port } = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${port}`,
    hubspot,
    salesforce,
    salesforceStreaming,
    calls,
    stalledConnections: () => stalled.size,
    seedContacts,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    setFaults: (next) => {
      faults = Faults.parse({ ...faults, ...next });
    },
    reset: () => {
      hubspot.reset();
      salesforce.reset();
      salesforceStreaming.reset();
      calls.length = 0;
      window.length = 0;
      searchWindow.length = 0;
      faults = Faults.parse({});
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The body goes out as chunks: without a Content-Length, Node frames an HTTP/1.1 answer chunked. */
function answerChunked(res: Response): void {
  const end = res.end.bind(res) as (cb?: () => void) => Response;
  res.end = ((chunk?: unknown, encoding?: unknown, cb?: () => void) => {
    if (!res.headersSent) res.removeHeader('Content-Length');
    if (typeof chunk === 'function') return end(chunk as () => void);
    if (chunk !== undefined && chunk !== null)
      res.write(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    return end(typeof encoding === 'function' ? (encoding as () => void) : cb);
  }) as typeof res.end;
}

export type { Properties } from './hubspot.js';
