/**
 * A lead's older engagement, folded once its timeline passed the cap: per engagement rule (as
 * configured when folded, see `rule`) and UTC day, how many events matched and their decay weight.
 */
export interface HistoryBucket {
  /** `<rule id>#<fingerprint of its event, where and decay>`: a rule changed since no longer matches. */
  rule: string;
  /** Start of the bucket's UTC day (ms). */
  day: number;
  /** Events folded into the bucket. */
  n: number;
  /**
   * Σ exp((day − occurredAt) × rate) over the events, rate = ln ½ / half-life (0 without one): the
   * sum of their decay factors as of `day`, so the factor at any later `now` is exact.
   */
  w: number;
  /** Oldest and newest occurredAt of the events (a window rule keeps the bucket while `hi` is inside). */
  lo: number;
  hi: number;
}
