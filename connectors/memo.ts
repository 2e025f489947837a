/**
 * A read worth doing once in a while (option labels, account details): the answer is shared by every
 * caller for `ttlMs`; a failed read is not kept, so the next caller tries again.
 */
export function memo<T>(
  read: () => Promise<T>,
  ttlMs: number,
  now: () => number = Date.now,
): () => Promise<T> {
  let held: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (held && now() - held.at < ttlMs) return held.value;
    const value = read();
    const entry = { at: now(), value };
    held = entry;
    value.catch(() => {
      if (held === entry) held = undefined;
    });
    return value;
  };
}

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
