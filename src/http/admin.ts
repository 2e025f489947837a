import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { RedisClient } from '../store/redis.js';
import { z } from 'zod';
import { QueueName } from '../queue/catalog.js';
import { listDeadLetters, purgeDeadLetters, replayDeadLetters } from '../queue/dead-letters.js';
import type { Queues } from '../queue/queues.js';
import type { Config } from '../config/schema.js';
import { parseLeadKey, type LeadRef } from '../domain/index.js';
import { readReport } from '../reports/read.js';
import { readOverview } from './admin-data.js';
import { queueBoard } from './queue-board.js';
import { readLead, searchLeads } from './lead-data.js';
import { secureEqual } from '../secure-compare.js';
import { bearerToken } from './edge.js';

export interface AdminDeps {
  adminToken: string | undefined;
  redis: RedisClient;
  queues: Queues;
  config: Config;
  now?: () => number;
  /** The lead's page in its CRM (a connector's recordUrl), for links; without it there are none. */
  recordUrl?: ((lead: LeadRef) => Promise<string>) | undefined;
  /** Where the router is mounted (default `/admin`), for Bull Board's links. */
  basePath?: string;
}

// The dashboard is static files next to this module (copied beside the compiled code too).
const STATIC: Record<string, { type: string; file: string }> = {
  'dashboard.js': { type: 'text/javascript', file: 'dashboard.js' },
  'dashboard.css': { type: 'text/css', file: 'dashboard.css' },
};
const asset = (file: string) => readFileSync(new URL(`./dashboard/${file}`, import.meta.url));

const JobParams = z.object({ queue: QueueName, id: z.string().min(1).max(200) });

/** No inline script or style, nothing from elsewhere, never framed. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

const SESSION_COOKIE = 'leadflow_admin';
const SESSION_MS = 12 * 3_600_000;
/** Sent by the dashboard's script: a cross-site form cannot set it, a cross-origin fetch needs CORS. */
const DASHBOARD_HEADER = 'x-leadflow-dashboard';

/**
 * A session is its issue time signed with ADMIN_TOKEN: nothing stored, never the token itself, and
 * changing ADMIN_TOKEN ends every session.
 */
function session(adminToken: string, issuedAt: number): string {
  const mac = createHmac('sha256', adminToken).update(`admin-session.${issuedAt}`).digest('base64url');
  return `${issuedAt}.${mac}`;
}

function validSession(adminToken: string, value: string | undefined, now: number): boolean {
  const issuedAt = Number(value?.split('.')[0]);
  if (!value || !Number.isSafeInteger(issuedAt) || now - issuedAt > SESSION_MS || issuedAt > now)
    return false;
  return secureEqual(value, session(adminToken, issuedAt));
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** Fetch metadata: browsers set Sec-Fetch-Site themselves and no page can forge it. */
const sameOrigin = (req: Request) => req.get('sec-fetch-site') === 'same-origin';

/**
 * /admin: the dashboard and its JSON API. The JSON API takes `Authorization: Bearer <ADMIN_TOKEN>`;
 * a browser signs in on /admin/login, which sets an HttpOnly, SameSite=Strict session cookie that
 * opens the page, its assets and (from the page's own script) the API. The token is never in a
 * URL. Without ADMIN_TOKEN the whole area is off.
 */
export function createAdminRouter(deps: AdminDeps): express.Router {
  const r = express.Router();
  const { adminToken, now = Date.now } = deps;
  r.use((_req: Request, res: Response, next: NextFunction) => {
    res.set(SECURITY_HEADERS);
    next();
  });
  if (!adminToken) {
    r.use((_req: Request, res: Response) => {
      res.status(503).json({ error: 'set ADMIN_TOKEN to enable the admin API' });
    });
    return r;
  }

  // Before the check below: the sign-in form and the static assets (code, no data) are open.
  r.get('/static/:file', (req, res) => {
    const entry = STATIC[req.params.file];
    if (!entry) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    res.type(entry.type).send(asset(entry.file));
  });

  const loginPage = (req: Request, error: string) =>
    asset('login.html').toString('utf8').replaceAll('__BASE__', req.baseUrl).replace('__ERROR__', error);
  r.get('/login', (req, res) => {
    res.type('html').send(loginPage(req, ''));
  });

  r.post('/login', express.urlencoded({ extended: false, limit: '2kb' }), (req, res) => {
    const given = (req.body as { token?: unknown } | undefined)?.token;
    if (typeof given !== 'string' || !secureEqual(given, adminToken)) {
      res.status(401).type('html').send(loginPage(req, 'That is not the admin token.'));
      return;
    }
    res.cookie(SESSION_COOKIE, session(adminToken, now()), {
      httpOnly: true,
      sameSite: 'strict',
      // Behind a TLS-terminating proxy the request itself is plain HTTP.
      secure: req.secure || req.get('x-forwarded-proto') === 'https',
      path: req.baseUrl || '/',
      maxAge: SESSION_MS,
    });
    res.redirect(303, `${req.baseUrl}/`);
  });

  r.use((req: Request, res: Response, next: NextFunction) => {
    const bearer = bearerToken(req);
    if (bearer !== undefined) {
      if (secureEqual(bearer, adminToken)) return next();
    } else if (validSession(adminToken, cookie(req, SESSION_COOKIE), now())) {
      // The cookie travels with any same-site request; a change needs the dashboard's own header, or
      // the browser's word that it comes from this origin (Bull Board's page sets no header of ours).
      if (SAFE_METHODS.has(req.method) || req.get(DASHBOARD_HEADER) || sameOrigin(req)) return next();
      res.status(403).json({ error: `${DASHBOARD_HEADER} header required` });
      return;
    } else if (req.method === 'GET' && req.path === '/') {
      res.redirect(303, `${req.baseUrl}/login`);
      return;
    }
    res.status(401).json({ error: 'admin token required' });
  });

  r.use('/queues', queueBoard(deps.queues, `${deps.basePath ?? '/admin'}/queues`));

  r.get('/', (req, res) => {
    res.type('html').send(asset('index.html').toString('utf8').replaceAll('__BASE__', req.baseUrl));
  });

  r.get('/api/overview', async (_req, res) => {
    res.json(await readOverview({ ...deps, now: now() }));
  });

  r.get('/api/leads', async (req, res) => {
    const q = z
      .string()
      .max(200)
      .safeParse(req.query.q ?? '');
    if (!q.success) {
      res.status(400).json({ error: 'q must be one search text of at most 200 characters' });
      return;
    }
    res.json(await searchLeads(deps, q.data));
  });

  r.get('/api/leads/:lead', async (req, res) => {
    const lead = parseLeadKey(req.params.lead);
    if (!lead) {
      res.status(400).json({ error: 'not a lead key such as hubspot.contact.123' });
      return;
    }
    const story = await readLead({ ...deps, now: now() }, lead);
    if (story) res.json(story);
    else res.status(404).json({ error: 'no such lead' });
  });

  r.get('/api/report', async (req, res) => {
    const days = z.coerce.number().int().positive().optional().safeParse(req.query.days);
    if (!days.success) {
      res.status(400).json({ error: 'days must be a positive whole number' });
      return;
    }
    res.json(await readReport(deps.redis, deps.config, days.data));
  });

  r.get('/api/dead-letters', async (_req, res) => {
    res.json(await listDeadLetters(deps.queues));
  });

  r.post('/api/dead-letters/:queue/:id/replay', async (req, res) => {
    const params = JobParams.safeParse(req.params);
    if (!params.success) {
      res.status(400).json({ error: `unknown queue: ${req.params.queue}` });
      return;
    }
    const replayed = await replayDeadLetters(deps.queues, params.data);
    res.status(replayed ? 202 : 404).json(replayed ? { replayed } : { error: 'no such dead letter' });
  });

  r.delete('/api/dead-letters/:queue/:id', async (req, res) => {
    const params = JobParams.safeParse(req.params);
    if (!params.success) {
      res.status(400).json({ error: `unknown queue: ${req.params.queue}` });
      return;
    }
    const purged = await purgeDeadLetters(deps.queues, params.data);
    res.status(purged ? 200 : 404).json(purged ? { purged } : { error: 'no such dead letter' });
  });

  return r;
}
