import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import {
  LeadState,
  PropertyValue,
  SCORE_BANDS,
  leadKey,
  type Stage,
  type LeadRef,
  type Profile,
} from '../domain/index.js';
import { guardHandRaise } from '../handoff/guardrails.js';
import { decide } from '../handoff/decide.js';
import { IncrementalScore } from '../scoring/index.js';
import { unknownEventType } from '../config/event-names.js';
import { MemoryRouting } from '../routing/memory.js';
import { table } from './format.js';
import { HistoryColumns, type LeadHistory } from './history-columns.js';

export type { LeadHistory };

export interface SimulationReport {
  leads: number;
  events: number;
  thresholds: { mql: number; sql: number };
  mql: number;
  sql: number;
  byTrigger: { threshold: number; hand_raise: number };
  /** ISO week (UTC) of each lead's first handoff. */
  perWeek: { week: string; mql: number; sql: number }[];
  /** How many leads would become MQL at each alternative threshold. */
  whatIf: { mqlThreshold: number; mql: number }[];
  /** Scores at the end of the history. */
  finalBands: { band: string; leads: number }[];
}

/**
 * Pure: replays each lead's history event by event, at each event's own time, through the same
 * scoring engine and handoff decision the worker uses, so the counts are what the worker would
 * have done with these rules.
 */
export function simulate(
  histories: Iterable<LeadHistory>,
  config: Config,
  alternatives?: number[],
): SimulationReport {
  const { thresholds } = config;
  const mqlThresholds = alternatives ?? defaultAlternatives(thresholds.mql);
  const weeks = new Map<string, { mql: number; sql: number }>();
  const report: SimulationReport = {
    leads: 0,
    events: 0,
    thresholds,
    mql: 0,
    sql: 0,
    byTrigger: { threshold: 0, hand_raise: 0 },
    perWeek: [],
    whatIf: mqlThresholds.map((t) => ({ mqlThreshold: t, mql: 0 })),
    finalBands: SCORE_BANDS.map(([lo, hi]) => ({ band: `${lo}–${hi}`, leads: 0 })),
  };

  const sets = [
    thresholds,
    ...report.whatIf.map((w) => ({ mql: w.mqlThreshold, sql: Math.max(w.mqlThreshold, thresholds.sql) })),
  ];
  for (const history of histories) {
    report.leads++;
    report.events += history.events.length;
    const [replay, ...alternatives] = replayLead(history, config, sets);
    if (!replay) continue;
    if (replay.firstHandoff) {
      report.byTrigger[replay.firstHandoff.trigger]++;
      const week = isoWeek(replay.firstHandoff.at);
      const bucket = weeks.get(week) ?? { mql: 0, sql: 0 };
      if (replay.reachedMql) bucket.mql++;
      if (replay.reachedSql) bucket.sql++;
      weeks.set(week, bucket);
    }
    if (replay.reachedMql) report.mql++;
    if (replay.reachedSql) report.sql++;
    const band =
      report.finalBands[
        SCORE_BANDS.findIndex(([lo, hi]) => replay.finalScore >= lo && replay.finalScore <= hi)
      ];
    if (band) band.leads++;
    alternatives.forEach((alt, i) => {
      if (alt.reachedMql) report.whatIf[i]!.mql++;
    });
  }
  report.perWeek = [...weeks.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([week, c]) => ({ week, ...c }));
  return report;
}

export interface Comparison {
  leads: number;
  current: { mql: number; sql: number };
  proposed: { mql: number; sql: number };
  /** Leads handed off under both rules whose owner differs. */
  ownersChanged: number;
  /**
   * Every lead whose stage at the end of its history, or whose owner, differs under the proposed
   * rules; the owner is who routing picks at its first handoff (null: not handed off, or unassigned).
   */
  changes: {
    lead: string;
    current: Stage;
    proposed: Stage;
    currentOwner: string | null;
    proposedOwner: string | null;
  }[];
}

/**
 * Pure: the same histories under the current and the proposed rules, lead by lead. Each side's
 * handoffs are routed in the order they happened, with that side's routing and its own round-robin
 * turns: one lead more or less early on shifts whose turn every later one is.
 */
export function compare(histories: Iterable<LeadHistory>, current: Config, proposed: Config): Comparison {
  const result: Comparison = {
    leads: 0,
    current: { mql: 0, sql: 0 },
    proposed: { mql: 0, sql: 0 },
    ownersChanged: 0,
    changes: [],
  };
  const stageOf = (r: Replay | undefined): Stage => (r?.reachedSql ? 'sql' : r?.reachedMql ? 'mql' : 'lead');
  // Only leads handed off on either side can change; the others are not kept.
  const rows: Comparison['changes'] = [];
  const handoffs = { current: [] as Handed[], proposed: [] as Handed[] };
  for (const history of histories) {
    result.leads++;
    const before = replayLead(history, current, [current.thresholds])[0];
    const after = replayLead(history, proposed, [proposed.thresholds])[0];
    const row = {
      lead: leadKey(history.lead),
      current: stageOf(before),
      proposed: stageOf(after),
      currentOwner: null,
      proposedOwner: null,
    };
    for (const [side, stage] of [
      [result.current, row.current],
      [result.proposed, row.proposed],
    ] as const) {
      if (stage !== 'lead') side.mql++;
      if (stage === 'sql') side.sql++;
    }
    if (!before?.firstHandoff && !after?.firstHandoff) continue;
    rows.push(row);
    if (before?.firstHandoff)
      handoffs.current.push({ row, at: before.firstHandoff.at, profile: history.profile });
    if (after?.firstHandoff)
      handoffs.proposed.push({ row, at: after.firstHandoff.at, profile: history.profile });
  }
  routeInOrder(handoffs.current, current, (row, owner) => (row.currentOwner = owner));
  routeInOrder(handoffs.proposed, proposed, (row, owner) => (row.proposedOwner = owner));
  for (const row of rows) {
    const both = row.current !== 'lead' && row.proposed !== 'lead';
    if (both && row.currentOwner !== row.proposedOwner) result.ownersChanged++;
    if (row.current !== row.proposed || row.currentOwner !== row.proposedOwner) result.changes.push(row);
  }
  return result;
}

interface Handed {
  row: Comparison['changes'][number];
  at: number;
  profile: Profile;
}

/** Routes handoffs oldest first (ties in lead order: the sort is stable) through one in-memory routing. */
function routeInOrder(
  handoffs: Handed[],
  config: Config,
  set: (row: Handed['row'], owner: string | null) => void,
): void {
  const routing = new MemoryRouting(config.routing, config.sla.workingHours.timeZone);
  handoffs.sort((a, b) => a.at - b.at);
  for (const h of handoffs) set(h.row, routing.route(h.profile, h.at));
}

const RANK: Record<Stage, number> = { lead: 0, mql: 1, sql: 2 };
const MAX_CHANGES_SHOWN = 50;

export function formatComparison(c: Comparison): string {
  const delta = (a: number, b: number) => `${a} → ${b} (${b - a >= 0 ? '+' : ''}${b - a})`;
  const change = (x: Comparison['changes'][number]) =>
    x.current === x.proposed
      ? 'owner changes'
      : RANK[x.proposed] > RANK[x.current]
        ? `becomes ${x.proposed.toUpperCase()}`
        : `stops being ${x.current.toUpperCase()}`;
  const owner = (id: string | null) => id ?? '–';
  const shown = c.changes.slice(0, MAX_CHANGES_SHOWN);
  const more = c.changes.length - shown.length;
  return [
    `Proposed rules against the current ones, over ${c.leads} leads:`,
    `MQL ${delta(c.current.mql, c.proposed.mql)}   SQL ${delta(c.current.sql, c.proposed.sql)}   ` +
      `${c.changes.length} leads change   ${c.ownersChanged} owners change`,
    '',
    c.changes.length
      ? table(
          ['lead', 'now', 'proposed', 'change', 'owner now', 'owner proposed'],
          shown.map((x) => [
            x.lead,
            x.current.toUpperCase(),
            x.proposed.toUpperCase(),
            change(x),
            owner(x.currentOwner),
            owner(x.proposedOwner),
          ]),
        ) + (more > 0 ? `…and ${more} more (--json lists all)\n` : '')
      : 'No lead changes stage or owner.\n',
  ].join('\n');
}

interface Replay {
  firstHandoff?: { at: number; trigger: 'threshold' | 'hand_raise' };
  reachedMql: boolean;
  reachedSql: boolean;
  finalScore: number;
}

/**
 * One lead's history event by event, scored once and incrementally (not rescored from the start at
 * every event), decided under each set of thresholds. Each decision sees only the event at hand: an
 * earlier hand-raise was handled at its own event, so the worker's decision over the whole timeline
 * finds the same one.
 */
function replayLead(history: LeadHistory, config: Config, sets: { mql: number; sql: number }[]): Replay[] {
  const events = [...history.events].sort((a, b) => a.occurredAt - b.occurredAt || a.id.localeCompare(b.id));
  const scorer = new IncrementalScore(history.profile, config.scoring);
  const seen = new Set<string>();
  const runs = sets.map((thresholds) => {
    const replay: Replay = { reachedMql: false, reachedSql: false, finalScore: 0 };
    return { thresholds, state: LeadState.parse({}), replay };
  });
  for (const e of events) {
    const first = !seen.has(e.id);
    seen.add(e.id);
    const score = scorer.add(e, first);
    const handRaiseAction = guardHandRaise(history.profile, score, config.guardrails).verdict.action;
    for (const run of runs) {
      const decision = decide({
        lead: history.lead,
        state: run.state,
        score,
        thresholds: run.thresholds,
        hysteresis: config.lifecycle.hysteresis,
        handRaiseTypes: config.handRaise,
        handRaiseAction,
        events: [{ e, r: e.occurredAt }],
        now: e.occurredAt,
      });
      if (decision.handoff && !run.replay.firstHandoff)
        run.replay.firstHandoff = { at: e.occurredAt, trigger: decision.handoff.trigger };
      run.state = decision.state;
      run.replay.finalScore = score.total;
    }
  }
  return runs.map(({ state, replay }) => ({
    ...replay,
    reachedMql: state.stage !== 'lead',
    reachedSql: state.stage === 'sql',
  }));
}

function defaultAlternatives(mql: number): number[] {
  const out = new Set<number>();
  for (let t = mql - 10; t <= mql + 10; t += 5) if (t >= 0 && t <= 100) out.add(t);
  return [...out];
}

/** ISO 8601 week of a UTC timestamp, e.g. `2026-W47`. */
export function isoWeek(ms: number): string {
  const d = new Date(ms);
  const day = d.getUTCDay() || 7;
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 4 - day);
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.ceil(((thursday - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

export function formatSimulation(r: SimulationReport): string {
  const pct = (n: number) => (r.leads ? `${Math.round((n / r.leads) * 100)}%` : '0%');
  return [
    `Replayed ${r.events} events of ${r.leads} leads through the current rules.`,
    `MQL (≥ ${r.thresholds.mql} or hand-raise): ${r.mql} (${pct(r.mql)})   SQL (≥ ${r.thresholds.sql}): ${r.sql} (${pct(r.sql)})`,
    `First handoff by trigger: ${r.byTrigger.threshold} threshold, ${r.byTrigger.hand_raise} hand-raise`,
    '',
    'What if the MQL threshold were…',
    table(
      ['threshold', 'MQLs', 'share'],
      r.whatIf.map((w) => [String(w.mqlThreshold), String(w.mql), pct(w.mql)]),
    ),
    'Handoffs per week (UTC, ISO weeks)',
    table(
      ['week', 'MQL', 'SQL'],
      r.perWeek.map((w) => [w.week, String(w.mql), String(w.sql)]),
    ),
    'Score at the end of the history',
    table(
      ['band', 'leads'],
      r.finalBands.map((b) => [b.band, String(b.leads)]),
    ),
  ].join('\n');
}

// ---- loading an export ---------------------------------------------------------------------

/** Milliseconds, a string of digits, or an ISO 8601 date; one schema so the error says which. */
const When = z.union([z.number().int().nonnegative(), z.string().min(1)]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `not a date: "${String(v)}"` });
    return z.NEVER;
  }
  return ms;
});

const HistoryEvent = z.object({
  leadId: z.string().min(1),
  type: z.string().min(1),
  occurredAt: When,
  id: z.string().optional(),
  properties: z.record(z.string(), PropertyValue).default({}),
});

/** An array of events, or `{ events, profiles }`. */
const HistoryJson = z.object({
  events: z.array(HistoryEvent),
  profiles: z.record(z.string(), z.record(z.string(), PropertyValue)).default({}),
});

export class HistoryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file} cannot be replayed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** At most this many problems are listed; a file of bad rows should not print a million lines. */
const MAX_PROBLEMS = 100;
/** A quoted field longer than this never closes in a real export: reported where it opened. */
const MAX_QUOTED_CHARS = 65_536;

/**
 * Reads a JSON, JSON-lines (.jsonl, .ndjson) or CSV export at once; every bad row is reported with
 * its line, and nothing is half-loaded. `known`: the event types the rules can see; others are bad rows.
 */
export function loadHistory(
  path: string,
  crm: LeadRef['crm'] = 'hubspot',
  known?: Set<string>,
): LeadHistory[] {
  return [...loadColumns(path, crm, known)];
}

function loadColumns(path: string, crm: LeadRef['crm'], known?: Set<string>): HistoryColumns {
  const text = readFileSync(path, 'utf8');
  if (!isLineFormat(path)) return jsonColumns(text, path, crm, known);
  const reader = lineReader(path, crm, known);
  for (const line of text.split(/\r?\n/)) reader.line(line);
  return reader.end();
}

/**
 * The same, streamed line by line: a large CSV or JSON-lines export is never held as one string,
 * and its events are held compactly until each lead's history is built as it is replayed.
 */
export async function readHistory(
  path: string,
  crm: LeadRef['crm'],
  known?: Set<string>,
): Promise<Iterable<LeadHistory>> {
  if (!isLineFormat(path)) return loadColumns(path, crm, known);
  const reader = lineReader(path, crm, known);
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) reader.line(line);
  return reader.end();
}

const isLineFormat = (path: string) => /\.(csv|jsonl|ndjson)$/i.test(path);
const lineReader = (path: string, crm: LeadRef['crm'], known?: Set<string>) =>
  path.toLowerCase().endsWith('.csv')
    ? new CsvHistoryReader(path, crm, known)
    : new JsonLinesHistoryReader(path, crm, known);

export function parseJsonHistory(
  text: string,
  file: string,
  crm: LeadRef['crm'],
  known?: Set<string>,
): LeadHistory[] {
  return [...jsonColumns(text, file, crm, known)];
}

function jsonColumns(text: string, file: string, crm: LeadRef['crm'], known?: Set<string>): HistoryColumns {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HistoryError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  const parsed = HistoryJson.safeParse(Array.isArray(json) ? { events: json } : json);
  if (!parsed.success)
    throw new HistoryError(
      file,
      parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`),
    );
  const unknown = parsed.data.events.flatMap((e, i) =>
    known && !known.has(e.type) ? [`events.${i}.type: ${unknownEventType(e.type, known)}`] : [],
  );
  if (unknown.length) throw new HistoryError(file, unknown);
  // Leads with a profile come first, events add nothing to it (the profile lives apart in this form).
  const columns = new HistoryColumns(crm);
  for (const [id, profile] of Object.entries(parsed.data.profiles)) columns.addLead(id, profile);
  for (const e of parsed.data.events) columns.addEvent(e.leadId, {}, e);
  return columns;
}

export function parseCsvHistory(
  text: string,
  file: string,
  crm: LeadRef['crm'],
  known?: Set<string>,
): LeadHistory[] {
  const reader = new CsvHistoryReader(file, crm, known);
  for (const line of text.split(/\r?\n/)) reader.line(line);
  return [...reader.end()];
}

/**
 * Rows in, leads out: each lead's events and profile gathered as rows arrive, in the order leads
 * first appear; bad rows collected with their line numbers.
 */
abstract class HistoryReader {
  private readonly problems: string[] = [];
  private dropped = 0;
  private readonly columns: HistoryColumns;

  constructor(
    protected readonly file: string,
    crm: LeadRef['crm'],
    private readonly known: Set<string> | undefined,
  ) {
    this.columns = new HistoryColumns(crm);
  }

  abstract line(text: string): void;

  protected problem(text: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(text);
    else this.dropped++;
  }

  /** One row: parsed with zod, its type checked, then added to its lead. */
  protected row(line: number, input: unknown, profile: Profile): void {
    const parsed = HistoryEvent.safeParse(input);
    if (!parsed.success) {
      for (const i of parsed.error.issues) this.problem(`line ${line}: ${i.path.join('.')}: ${i.message}`);
      return;
    }
    const e = parsed.data;
    if (this.known && !this.known.has(e.type)) {
      this.problem(`line ${line}: type: ${unknownEventType(e.type, this.known)}`);
      return;
    }
    this.columns.addEvent(e.leadId, profile, e);
  }

  end(): HistoryColumns {
    if (this.dropped) this.problems.push(`…and ${this.dropped.toLocaleString('en-US')} more`);
    if (this.problems.length) throw new HistoryError(this.file, this.problems);
    return this.columns;
  }
}

class JsonLinesHistoryReader extends HistoryReader {
  private n = 0;

  line(text: string): void {
    const line = ++this.n;
    if (text.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      this.problem(`line ${line}: not valid JSON: ${(err as Error).message}`);
      return;
    }
    const profile = z.object({ profile: z.record(z.string(), PropertyValue).default({}) }).safeParse(json);
    this.row(line, json, profile.success ? profile.data.profile : {});
  }
}

class CsvHistoryReader extends HistoryReader {
  private n = 0;
  private header: string[] | undefined;
  /** A row whose quoted field runs on over the next lines. */
  private open: { line: number; text: string } | undefined;

  line(text: string): void {
    const line = ++this.n;
    const row = this.open ? { line: this.open.line, text: `${this.open.text}\n${text}` } : { line, text };
    const cells = parseCsvRow(row.text);
    if (cells === null) {
      if (row.text.length <= MAX_QUOTED_CHARS) this.open = row;
      else {
        this.unterminated(row.line);
        this.open = undefined;
      }
      return;
    }
    this.open = undefined;
    this.cells(row.line, cells);
  }

  private unterminated(line: number): void {
    this.problem(`line ${line}: a quoted field opens here and never closes (unterminated quote)`);
  }

  private cells(line: number, cells: string[]): void {
    if (!this.header) {
      this.header = cells.map((h) => h.trim());
      const missing = ['lead_id', 'type', 'occurred_at'].filter((c) => !this.header!.includes(c));
      if (missing.length)
        throw new HistoryError(this.file, [`line 1: missing column(s) ${missing.join(', ')}`]);
      return;
    }
    const header = this.header;
    if (cells.every((c) => c === '')) return;
    if (cells.length !== header.length) {
      this.problem(`line ${line}: ${cells.length} columns, the header has ${header.length}`);
      return;
    }
    const record: Record<string, string> = {};
    const properties: Record<string, string> = {};
    const profile: Profile = {};
    header.forEach((column, i) => {
      const value = cells[i] ?? '';
      record[column] = value;
      if (['lead_id', 'type', 'occurred_at', 'id'].includes(column) || value === '') return;
      if (column.startsWith('profile.')) profile[column.slice('profile.'.length)] = value;
      else properties[column] = value;
    });
    this.row(
      line,
      {
        leadId: record.lead_id,
        type: record.type,
        occurredAt: record.occurred_at,
        id: record.id || undefined,
        properties,
      },
      profile,
    );
  }

  override end(): HistoryColumns {
    if (!this.header) throw new HistoryError(this.file, ['the file is empty']);
    if (this.open) this.unterminated(this.open.line);
    return super.end();
  }
}

/** RFC 4180, one row: quoted fields may hold commas, quotes ("") and line breaks; null while a quote is open. */
function parseCsvRow(text: string): string[] | null {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  if (quoted) return null;
  cells.push(cell);
  return cells;
}
