import { z } from 'zod';
import { EngagementEvent, PropertyValue, type LeadRef } from '../domain/index.js';
import { BUILT_IN_EVENT_TYPES } from '../domain/event-types.js';

/** A timeline entry: the event and when it reached us (for speed-to-lead). */
export interface TimelineEntry {
  e: EngagementEvent;
  r: number;
}

/** What a line written before the compact one held after its `occurredAt` (see decodeLine). */
const Line = z.tuple([
  z.string().min(1),
  z.string().min(1),
  z.string().min(1),
  z.number(),
  z.record(z.string(), PropertyValue).optional(),
]);
/** An entry as timelines held it before lines: a sorted set member. */
export const LegacyEntry = z.object({ e: EngagementEvent, r: z.number() });

/** Event types a line names by one character: their index in the built-in list (base 36). */
const TYPE_CODES = BUILT_IN_EVENT_TYPES;
/** In an encoded id: the lead's id, and (first) the event's source followed by `:`. */
const LEAD_ID = '\u0001';
const SOURCE = '\u0002';
/** Before a type that is one character long, so it is not read as a code. */
const VERBATIM = '\u0001';

/** JSON string escaping without the quotes: no tab, newline or control character is left raw. */
const escape = (text: string) => JSON.stringify(text).slice(1, -1);
const Text = z.string();
/** What JSON.parse would return unchanged: no escape, quote or control character (most ids and types). */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const PLAIN = /^[^"\\\u0000-\u001f]*$/;
const unescape = (text: string) => (PLAIN.test(text) ? text : Text.parse(JSON.parse(`"${text}"`)));

/**
 * `<occurredAt base 36>\t<id>\t<type>\t<source>\t<receivedAt − occurredAt, base 36>[\t<properties>]`:
 * scoring and the note need nothing else. The id names the lead's id and a leading `<source>:` by a
 * control character, a built-in type is one character, the lead's own CRM as source is empty, and
 * the properties are their JSON without the braces. Every text is JSON-escaped, so tabs and
 * newlines only separate.
 */
export function encodeLine({ e, r }: TimelineEntry): string {
  // A leading `[` escaped, so the line is never read as one in the old format.
  let id = escape(e.id).replace(/^\[/, '\\u005b');
  const sourcePrefix = `${escape(e.source)}:`;
  if (id.startsWith(sourcePrefix)) id = SOURCE + id.slice(sourcePrefix.length);
  if (e.lead.id.length > 1) id = id.replace(escape(e.lead.id), LEAD_ID);
  const code = (TYPE_CODES as readonly string[]).indexOf(e.type);
  const type =
    code >= 0 ? code.toString(36) : e.type.length === 1 ? VERBATIM + escape(e.type) : escape(e.type);
  const source = e.source === e.lead.crm ? '' : escape(e.source);
  const delay = r - e.occurredAt;
  const fields = [
    e.occurredAt.toString(36),
    id,
    type,
    source,
    Number.isSafeInteger(delay) ? delay.toString(36) : `=${r}`,
  ];
  if (Object.keys(e.properties).length > 0) fields.push(JSON.stringify(e.properties).slice(1, -1));
  return fields.join('\t');
}

const Base36 = z
  .string()
  .regex(/^-?[0-9a-z]+$/)
  .transform((v) => parseInt(v, 36));
const Properties = z.record(z.string(), PropertyValue);
// Built once: a zod schema costs more to build than to run, and every score job decodes up to the cap's lines.
const OccurredAt = Base36.pipe(z.number().int().nonnegative());
const DecimalAt = z.coerce.number().int().nonnegative();
const NonEmpty = z.string().min(1);
const TypeCode = z.enum(TYPE_CODES);
const Decimal = z.coerce.number();

export function decodeLine(line: string, lead: LeadRef): TimelineEntry {
  const tab = line.indexOf('\t');
  // A line written before the compact one: `<occurredAt>\t[id, type, source, receivedAt, properties?]`.
  if (line[tab + 1] === '[') {
    const [id, type, source, r, properties] = Line.parse(JSON.parse(line.slice(tab + 1)));
    const occurredAt = DecimalAt.parse(line.slice(0, tab));
    return { e: { id, lead, type, occurredAt, source, properties: properties ?? {} }, r };
  }
  const [at, rawId, rawType, rawSource, delay, properties] = line.split('\t');
  const occurredAt = OccurredAt.parse(at);
  const source = rawSource ? unescape(rawSource) : lead.crm;
  const type = NonEmpty.parse(rawType);
  const id = unescape(
    NonEmpty.parse(rawId)
      .replace(SOURCE, () => `${escape(source)}:`)
      .replace(LEAD_ID, () => escape(lead.id)),
  );
  return {
    e: {
      id,
      lead,
      type:
        type.length === 1
          ? TypeCode.parse(TYPE_CODES[parseInt(type, 36)])
          : unescape(type.startsWith(VERBATIM) ? type.slice(1) : type),
      occurredAt,
      source,
      properties: properties === undefined ? {} : Properties.parse(JSON.parse(`{${properties}}`)),
    },
    r: delay?.startsWith('=') ? Decimal.parse(delay.slice(1)) : occurredAt + Base36.parse(delay),
  };
}

/** A line's occurredAt (ms): base 36, or decimal in a line of the format before (JSON after the tab). */
export function lineOccurredAt(line: string): number {
  const tab = line.indexOf('\t');
  return parseInt(line.slice(0, tab), line[tab + 1] === '[' ? 10 : 36);
}
