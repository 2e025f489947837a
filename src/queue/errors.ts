/** Raised for a job that can never succeed (e.g. its handoff record is gone): no retry. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

/**
 * Raised by a job that cannot run yet: it ran before its time (a worker whose clock is ahead
 * promotes delayed jobs early), or another run of it is still writing. It goes back to the delayed
 * set for `waitMs`, without spending an attempt.
 */
export class NotDueError extends Error {
  override name = 'NotDueError';
  constructor(readonly waitMs: number) {
    super(`not due for another ${waitMs} ms`);
  }
}
