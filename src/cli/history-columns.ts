import type { EngagementEvent, LeadRef, Profile, PropertyValue } from '../domain/index.js';

/** One lead's history as an export gives it. */
export interface LeadHistory {
  lead: LeadRef;
  profile: Profile;
  events: EngagementEvent[];
}

/** Distinct strings and property sets held once each while reading an export. */
const INTERNED_MAX = 100_000;

/**
 * A value held once per distinct key, by index: a million rows repeat a few types and property sets
 * (`{url: "/pricing"}`). Past INTERNED_MAX distinct keys each new value gets its own slot, so an
 * export of unique values costs what it would have without interning, not an ever-growing map.
 */
class Interned<T> {
  readonly values: T[] = [];
  private readonly index = new Map<string, number>();

  add(key: string, value: T): number {
    const held = this.index.get(key);
    if (held !== undefined) return held;
    if (this.index.size < INTERNED_MAX) this.index.set(key, this.values.length);
    return this.values.push(value) - 1;
  }
}

/** A typed array that doubles when full. */
function grown<A extends Int32Array | Float64Array>(a: A, need: number): A {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => A)(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

const NO_ID = -1;

/**
 * The rows of an export, held column by column until the last one is read (an export is in no
 * particular order, so no lead's history is complete before then): per event a lead, a type, a time,
 * a property set and an id as numbers in typed arrays, instead of an event object with its own id
 * string (a million of those were most of the memory). Each lead's history is built when it is
 * replayed and dropped after, so only one lead's events exist as objects at a time.
 */
export class HistoryColumns implements Iterable<LeadHistory> {
  private readonly leadIds: string[] = [];
  private readonly profiles: Profile[] = [];
  private readonly leadIndex = new Map<string, number>();
  private readonly types = new Interned<string>();
  private readonly propertySets = new Interned<Record<string, PropertyValue>>();
  /** Ids the export gave; an event without one is `history:<its row among the accepted>`. */
  private readonly givenIds: string[] = [];
  private lead = new Int32Array(1024);
  private type = new Int32Array(1024);
  private at = new Float64Array(1024);
  private properties = new Int32Array(1024);
  private id = new Int32Array(1024);
  /** Events so far. */
  size = 0;
  private readonly objectType: LeadRef['objectType'];

  constructor(private readonly crm: LeadRef['crm']) {
    this.objectType = crm === 'hubspot' ? 'contact' : 'lead';
  }

  get leads(): number {
    return this.leadIds.length;
  }

  /** A lead (in the order leads first appear), its profile merged with what earlier rows said. */
  addLead(leadId: string, profile: Profile): number {
    let i = this.leadIndex.get(leadId);
    if (i === undefined) {
      i = this.leadIds.push(leadId) - 1;
      this.leadIndex.set(leadId, i);
      this.profiles.push({});
    }
    Object.assign(this.profiles[i]!, profile);
    return i;
  }

  addEvent(
    leadId: string,
    profile: Profile,
    e: { type: string; occurredAt: number; id?: string; properties: Record<string, PropertyValue> },
  ): void {
    const n = this.size;
    if (n === this.lead.length) {
      this.lead = grown(this.lead, n + 1);
      this.type = grown(this.type, n + 1);
      this.at = grown(this.at, n + 1);
      this.properties = grown(this.properties, n + 1);
      this.id = grown(this.id, n + 1);
    }
    this.lead[n] = this.addLead(leadId, profile);
    this.type[n] = this.types.add(e.type, e.type);
    this.at[n] = e.occurredAt;
    this.properties[n] = this.propertySets.add(JSON.stringify(e.properties), e.properties);
    this.id[n] = e.id === undefined ? NO_ID : this.givenIds.push(e.id) - 1;
    this.size = n + 1;
  }

  /** Each lead's history, events in the order they were read. */
  *[Symbol.iterator](): Iterator<LeadHistory> {
    // Counting sort of the event indexes by lead: stable, so each lead's events keep the file's order.
    const starts = new Int32Array(this.leads + 1);
    for (let i = 0; i < this.size; i++) starts[this.lead[i]! + 1]!++;
    for (let l = 0; l < this.leads; l++) starts[l + 1]! += starts[l]!;
    const order = new Int32Array(this.size);
    const next = starts.slice(0, this.leads);
    for (let i = 0; i < this.size; i++) order[next[this.lead[i]!]!++] = i;

    for (let l = 0; l < this.leads; l++) {
      const lead: LeadRef = { crm: this.crm, objectType: this.objectType, id: this.leadIds[l]! };
      const events: EngagementEvent[] = [];
      for (let k = starts[l]!; k < starts[l + 1]!; k++) {
        const i = order[k]!;
        const given = this.id[i]!;
        events.push({
          id: given === NO_ID ? `history:${i}` : this.givenIds[given]!,
          lead,
          type: this.types.values[this.type[i]!]!,
          occurredAt: this.at[i]!,
          source: 'history',
          properties: this.propertySets.values[this.properties[i]!]!,
        });
      }
      yield { lead, profile: this.profiles[l]!, events };
    }
  }
}
