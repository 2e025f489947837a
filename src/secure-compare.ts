import { timingSafeEqual } from 'node:crypto';

/** Constant-time string comparison; a length mismatch still costs one comparison. */
export function secureEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}
