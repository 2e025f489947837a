/** Raised for a job that can never succeed (e.g. its handoff record is gone): no retry. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}
