import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { QueueName } from '../queue/catalog.js';
import { listDeadLetters, purgeDeadLetters, replayDeadLetters } from '../queue/dead-letters.js';
import type { Queues } from '../queue/queues.js';
import type { Config } from '../config/schema.js';
import { readReport } from '../reports/read.js';
import { readOverview } from './admin-data.js';
import { secureEqual } from '../secure-compare.js';

export interface AdminDeps {
  adminToken: string | undefined;
  redis: Redis;
  queues: Queues;
  config: Config;
}

// The dashboard is three static files next to this module (copied beside the compiled code too).
const STATIC: Record<string, { type: string; file: string }> = {
  'dashboard.js': { type: 'text/javascript', file: 'dashboard.js' },
  'dashboard.css': { type: 'text/css', file: 'dashboard.css' },
};
const asset = (file: string) => readFileSync(new URL(`./dashboard/${file}`, import.meta.url));

const JobParams = z.object({ queue: QueueName, id: z.string().min(1).max(200) });

/**
 * /admin: the dashboard and its JSON API. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`;
 * the page and its assets also accept `?token=` so a browser can open them, and the page then
 * sends the header itself. Without ADMIN_TOKEN the whole area is off.
 */
export function createAdminRouter(deps: AdminDeps): express.Router {
  const r = express.Router();

  r.use((req: Request, res: Response, next: NextFunction) => {
    if (!deps.adminToken) {
      res.status(503).json({ error: 'set ADMIN_TOKEN to enable the admin API' });
      return;
    }
    const bearer = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    const query =
      !req.path.startsWith('/api/') && typeof req.query.token === 'string' ? req.query.token : undefined;
    const given = bearer ?? query;
    if (!given || !secureEqual(given, deps.adminToken)) {
      res.status(401).json({ error: 'admin token required' });
      return;
    }
    res.set('cache-control', 'no-store');
    next();
  });

  r.get('/', (req, res) => {
    // The assets need the token too; the page came with it in its own URL.
    const token = encodeURIComponent(typeof req.query.token === 'string' ? req.query.token : '');
    res
      .type('html')
      .send(
        asset('index.html')
          .toString('utf8')
          .replaceAll('__BASE__', req.baseUrl)
          .replaceAll('__TOKEN__', token),
      );
  });

  r.get('/static/:file', (req, res) => {
    const entry = STATIC[req.params.file];
    if (!entry) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    res.type(entry.type).send(asset(entry.file));
  });

  r.get('/api/overview', async (_req, res) => {
    res.json(await readOverview(deps.redis, deps.queues, deps.config.redis.prefix));
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
