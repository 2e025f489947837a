import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { RequestHandler } from 'express';
import type { Queues } from '../queue/queues.js';

/**
 * Bull Board's UI styles some elements inline and resolves its assets against a `<base>`: its own
 * policy allows exactly that, still nothing from elsewhere (its web font is not loaded).
 */
const BOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'";

/**
 * Queue internals (jobs, their data and errors, retry, clean) from Bull Board, for every queue. It
 * is mounted behind the admin sign-in; `basePath` is where it is served, for its links.
 */
export function queueBoard(queues: Queues, basePath: string): RequestHandler {
  const adapter = new ExpressAdapter().setBasePath(basePath);
  createBullBoard({
    queues: Object.values(queues).map((queue) => new BullMQAdapter(queue)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'leadflow queues' } },
  });
  const board = adapter.getRouter() as RequestHandler;
  return (req, res, next) => {
    res.set('content-security-policy', BOARD_CSP);
    board(req, res, next);
  };
}
