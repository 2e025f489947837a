/**
 * A read worth doing once in a while (owners, option labels): the answer is shared by every caller
 * for `ttlMs`. Past that, a caller still gets the answer held, at once, and the read is done again
 * behind it: no handoff waits for a refresh. A failed first read is not kept, so the next caller
 * reads again; a failed refresh keeps the answer held, and a caller `RETRY_MS` later tries again.
 */
export function memo<T>(
  read: () => Promise<T>,
  ttlMs: number,
  now: () => number = Date.now,
): () => Promise<T> {
  let held: { at: number; value: Promise<T> } | undefined;
  let refreshing = false;
  return () => {
    if (!held) {
      const entry = { at: now(), value: read() };
      held = entry;
      entry.value.catch(() => {
        if (held === entry) held = undefined;
      });
      return entry.value;
    }
    if (now() - held.at >= ttlMs && !refreshing) {
      refreshing = true;
      const value = read();
      void value
        .then(
          () => (held = { at: now(), value }),
          () => held && (held = { at: now() - ttlMs + Math.min(RETRY_MS, ttlMs), value: held.value }),
        )
        .finally(() => (refreshing = false));
    }
    return held.value;
  };
}

/** After a failed refresh, how long the answer held is used before the read is tried again. */
const RETRY_MS = 60_000;

/** Reps join, leave and go inactive: routing and alerts see that within ten minutes. */
export const OWNERS_TTL_MS = 10 * 60_000;

/** Option labels change when an admin edits a field: an hour is fresh enough for a rep's note. */
export const LABELS_TTL_MS = 60 * 60_000;

/** Pure: canonical field → value → label, for the mapped fields whose CRM field has options. */
export function labelsOf(
  mapping: Record<string, string>,
  options: Map<string, { value: string; label?: string | null }[]>,
): Record<string, Record<string, string>> {
  const labels: Record<string, Record<string, string>> = {};
  for (const [field, name] of Object.entries(mapping)) {
    const listed = options.get(name.toLowerCase()) ?? [];
    const named = listed.filter((o) => o.label);
    if (named.length) labels[field] = Object.fromEntries(named.map((o) => [o.value, o.label!]));
  }
  return labels;
}
