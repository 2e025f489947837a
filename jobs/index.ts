import type { Processors } from '../src/queue/workers.js';
import { processFollowup } from './followup.js';
import { processIngest } from './ingest.js';
import { processPoll } from './poll.js';
import { processScore } from './score.js';
import { processWriteback } from './writeback.js';

/** The processor of each queue, for startWorkers: the queue layer runs them without importing them. */
export const processors: Processors = {
  ingest: (ctx, job, bullJob) => processIngest(ctx, job, bullJob.attemptsMade > 0),
  score: (ctx, job, _bullJob, slot) => processScore(ctx, job, slot),
  writeback: (ctx, job, _bullJob, slot) => processWriteback(ctx, job, slot),
  followup: processFollowup,
  poll: processPoll,
};
