import { BUILT_IN_EVENT_TYPES } from '../domain/event-types.js';
import type { Config } from './schema.js';

/** Every event type this config can see: the built-in ones and those its mappings and webhooks name. */
export function knownEventTypes(config: Config): Set<string> {
  const { polling, signals } = config.hubspot;
  const campaigns = config.salesforce.polling.campaignMembers;
  return new Set([
    ...BUILT_IN_EVENT_TYPES,
    ...signals.map((s) => s.event),
    ...Object.values(polling.emailEvents?.types ?? {}),
    ...(polling.forms?.forms.map((f) => f.event) ?? []),
    ...Object.values(polling.marketingEvents?.states ?? {}),
    ...(campaigns ? [campaigns.event, ...campaigns.types.map((t) => t.event)] : []),
    ...config.webhooks.events.types,
  ]);
}

/**
 * Pure: a rule or hand-raise on an event type nothing sends never fires, silently; so each is a
 * problem (`path: message`), with the nearest known name when one is close enough to be a typo.
 */
export function unknownEventNames(config: Config): string[] {
  const known = knownEventTypes(config);
  const uses: [string, string][] = [
    ...config.handRaise.map((t, i): [string, string] => [`handRaise[${i}]`, t]),
    ...config.scoring.engagement.map((r, i): [string, string] => [`scoring.engagement[${i}].event`, r.event]),
  ];
  return uses.flatMap(([path, type]) => {
    if (known.has(type)) return [];
    return [`${path}: ${unknownEventType(type, known)} (list your own in webhooks.events.types)`];
  });
}

/** `unknown event type "page_veiw"; did you mean "page_view"?` */
export function unknownEventType(type: string, known: Iterable<string>): string {
  const near = nearest(type, known);
  return `unknown event type "${type}"${near ? `; did you mean "${near}"?` : ''}`;
}

/** The closest name within a typo's distance (a third of the word, at least 1), if any. */
function nearest(word: string, names: Iterable<string>): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = distance(word, name);
    if (d <= Math.max(1, Math.floor(word.length / 3)) && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** Damerau–Levenshtein (optimal string alignment): a swapped pair of letters is one typo. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}
