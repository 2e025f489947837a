/**
 * A count stated as a band, as CRM dropdowns store it: HubSpot's `numemployees` holds option
 * values such as `"50-100"` or the open-ended `"10000+"` (then `high` is Infinity).
 */
export interface CountRange {
  low: number;
  high: number;
}

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;
// Hyphen or en dash: an option edited in a portal may use either.
const BOUNDED = new RegExp(String.raw`^${NUMBER}\s*[-–]\s*${NUMBER}$`);
const OPEN_ENDED = new RegExp(String.raw`^${NUMBER}\s*\+$`);

/** The band a text states, or undefined when it is no band (a plain number is not one). */
export function parseCountRange(text: string): CountRange | undefined {
  const t = text.trim();
  const bounded = BOUNDED.exec(t);
  if (bounded) {
    const low = Number(bounded[1]);
    const high = Number(bounded[2]);
    return low <= high ? { low, high } : undefined;
  }
  const open = OPEN_ENDED.exec(t);
  return open ? { low: Number(open[1]), high: Infinity } : undefined;
}
