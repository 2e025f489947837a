import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import {
  LeadState,
  PropertyValue,
  SCORE_BANDS,
  type EngagementEvent,
  type LeadRef,
  type Profile,
} from '../domain/index.js';
import { guardHandRaise } from '../handoff/guardrails.js';
import { decide } from '../handoff/decide.js';
import { IncrementalScore } from '../scoring/index.js';
import { table } from './format.js';

/** One lead's history as an export gives it. */
export interface LeadHistory {
  lead: LeadRef;
  profile: Profile;
  events: EngagementEvent[];
}

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
  histories: LeadHistory[],
  config: Config,
  alternatives?: number[],
): SimulationReport {
  const { thresholds } = config;
  const mqlThresholds = alternatives ?? defaultAlternatives(thresholds.mql);
  const weeks = new Map<string, { mql: number; sql: number }>();
  const report: SimulationReport = {
    leads: histories.length,
    events: histories.reduce((n, h) => n + h.events.length, 0),
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

/** Reads a JSON or CSV export; every bad row is reported with its line, and nothing is half-loaded. */
export function loadHistory(path: string, crm: LeadRef['crm'] = 'hubspot'): LeadHistory[] {
  const text = readFileSync(path, 'utf8');
  return path.endsWith('.csv') ? parseCsvHistory(text, path, crm) : parseJsonHistory(text, path, crm);
}

export function parseJsonHistory(text: string, file: string, crm: LeadRef['crm']): LeadHistory[] {
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
  return group(parsed.data.events, parsed.data.profiles, crm);
}

export function parseCsvHistory(text: string, file: string, crm: LeadRef['crm']): LeadHistory[] {
  const rows = parseCsv(text);
  const header = rows.shift()?.cells.map((h) => h.trim());
  if (!header) throw new HistoryError(file, ['the file is empty']);
  const missing = ['lead_id', 'type', 'occurred_at'].filter((c) => !header.includes(c));
  if (missing.length) throw new HistoryError(file, [`line 1: missing column(s) ${missing.join(', ')}`]);

  const problems: string[] = [];
  const events: z.infer<typeof HistoryEvent>[] = [];
  const profiles: Record<string, Profile> = {};
  for (const row of rows) {
    if (row.cells.every((c) => c === '')) continue;
    if (row.cells.length !== header.length) {
      problems.push(`line ${row.line}: ${row.cells.length} columns, the header has ${header.length}`);
      continue;
    }
    const record = Object.fromEntries(header.map((h, i) => [h, row.cells[i] ?? '']));
    const properties: Record<string, string> = {};
    const profile: Profile = {};
    for (const [column, value] of Object.entries(record)) {
      if (['lead_id', 'type', 'occurred_at', 'id'].includes(column) || value === '') continue;
      if (column.startsWith('profile.')) profile[column.slice('profile.'.length)] = value;
      else properties[column] = value;
    }
    const parsed = HistoryEvent.safeParse({
      leadId: record.lead_id,
      type: record.type,
      occurredAt: record.occurred_at,
      id: record.id || undefined,
      properties,
    });
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `line ${row.line}: ${i.path.join('.')}: ${i.message}`));
      continue;
    }
    events.push(parsed.data);
    profiles[parsed.data.leadId] = { ...profiles[parsed.data.leadId], ...profile };
  }
  if (problems.length) throw new HistoryError(file, problems);
  return group(events, profiles, crm);
}

function group(
  events: z.infer<typeof HistoryEvent>[],
  profiles: Record<string, Profile>,
  crm: LeadRef['crm'],
): LeadHistory[] {
  const byLead = new Map<string, LeadHistory>();
  const objectType = crm === 'hubspot' ? 'contact' : 'lead';
  for (const id of Object.keys(profiles))
    byLead.set(id, { lead: { crm, objectType, id }, profile: profiles[id] ?? {}, events: [] });
  events.forEach((e, i) => {
    const history = byLead.get(e.leadId) ?? {
      lead: { crm, objectType, id: e.leadId },
      profile: {},
      events: [],
    };
    history.events.push({
      id: e.id ?? `history:${i}`,
      lead: history.lead,
      type: e.type,
      occurredAt: e.occurredAt,
      source: 'history',
      properties: e.properties,
    });
    byLead.set(e.leadId, history);
  });
  return [...byLead.values()];
}

/** RFC 4180: quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): { line: number; cells: string[] }[] {
  const rows: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      rows.push({ line: rowLine, cells });
      cells = [];
      cell = '';
      line++;
      rowLine = line;
    } else cell += c;
  }
  if (cell !== '' || cells.length) {
    cells.push(cell);
    rows.push({ line: rowLine, cells });
  }
  return rows;
}
