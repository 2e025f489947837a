/**
 * The subset of SOQL leadflow sends, parsed and run against in-memory records the way Salesforce
 * runs it: field names case-insensitive, string comparison case-insensitive, datetime literals
 * unquoted and compared as instants, literal types checked against the field type, long text
 * fields not filterable. Pure: the caller supplies describe metadata and records.
 */

/** What the evaluator needs of a describe field (the sandbox's describe fields satisfy it). */
export interface SoqlField {
  name: string;
  type: string;
  filterable: boolean;
  referenceTo: string[];
  relationshipName: string | null;
}

/** A stored record's field values (missing fields read as null). */
export type SoqlValue = string | number | boolean | null;
export type SoqlRecord = Record<string, SoqlValue | undefined>;
/** An answer row: `attributes`, selected values and nested relationship objects. */
export type SoqlRow = Record<string, unknown>;

export interface SoqlOrg {
  /** An sObject's canonical name and fields (looked up case-insensitively), or undefined. */
  describe(sObject: string): { name: string; fields: SoqlField[] } | undefined;
  records(sObject: string): SoqlRecord[];
  /** Any record by Id, whatever its sObject (lookups and polymorphic `Who`/`What`/`Owner`). */
  byId(id: string): { sObject: string; record: SoqlRecord } | undefined;
}

export class SoqlError extends Error {
  constructor(
    readonly errorCode: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE',
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

type Token =
  | { kind: 'word'; text: string; upper: string }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number; text: string }
  | { kind: 'datetime'; value: number; text: string }
  | { kind: 'date'; value: string }
  | { kind: 'op'; text: string }
  | { kind: 'punct'; text: '(' | ')' | ',' };

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})/;
const DATE = /^\d{4}-\d{2}-\d{2}(?![\dT])/;
const NUMBER = /^-?\d+(?:\.\d+)?/;
const WORD = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/;
const OPERATOR = /^(?:<=|>=|!=|<>|=|<|>)/;
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };

/** Milliseconds since the epoch of a SOQL/ISO datetime (`+0000` and `+00:00` offsets alike). */
export function instant(text: string): number {
  return Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    if (rest[0] === "'") {
      let value = '';
      let j = 1;
      for (; j < rest.length && rest[j] !== "'"; j++) {
        if (rest[j] === '\\') {
          j++;
          if (j >= rest.length) break;
          value += ESCAPES[rest[j]!] ?? rest[j];
        } else value += rest[j];
      }
      if (j >= rest.length) throw new SoqlError('MALFORMED_QUERY', `unterminated string at position ${i}`);
      tokens.push({ kind: 'string', value });
      i += j + 1;
      continue;
    }
    const datetime = DATETIME.exec(rest);
    if (datetime) {
      const value = instant(datetime[0]);
      if (Number.isNaN(value))
        throw new SoqlError(
          'MALFORMED_QUERY',
          `line 1:${i} no viable alternative at character '${datetime[0]}'`,
        );
      tokens.push({ kind: 'datetime', value, text: datetime[0] });
      i += datetime[0].length;
      continue;
    }
    const date = DATE.exec(rest);
    if (date) {
      tokens.push({ kind: 'date', value: date[0] });
      i += date[0].length;
      continue;
    }
    const number = NUMBER.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', value: Number(number[0]), text: number[0] });
      i += number[0].length;
      continue;
    }
    const word = WORD.exec(rest);
    if (word) {
      tokens.push({ kind: 'word', text: word[0], upper: word[0].toUpperCase() });
      i += word[0].length;
      continue;
    }
    const op = OPERATOR.exec(rest);
    if (op) {
      tokens.push({ kind: 'op', text: op[0] === '<>' ? '!=' : op[0] });
      i += op[0].length;
      continue;
    }
    if (rest[0] === '(' || rest[0] === ')' || rest[0] === ',') {
      tokens.push({ kind: 'punct', text: rest[0] });
      i++;
      continue;
    }
    throw new SoqlError('MALFORMED_QUERY', `line 1:${i} no viable alternative at character '${rest[0]}'`);
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

export type Literal =
  | { type: 'string'; value: string }
  | { type: 'number'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'null' }
  | { type: 'datetime'; value: number }
  | { type: 'date'; value: string };

export type Condition =
  | { kind: 'and' | 'or'; left: Condition; right: Condition }
  | { kind: 'not'; condition: Condition }
  | { kind: 'compare'; path: string[]; op: '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE'; value: Literal }
  | { kind: 'in'; path: string[]; negated: boolean; values: Literal[] };

export interface OrderBy {
  path: string[];
  descending: boolean;
  nullsFirst: boolean;
}

export interface SoqlQuery {
  select: string[][];
  from: string;
  where?: Condition;
  orderBy: OrderBy[];
  limit?: number;
  offset?: number;
}

const RESERVED = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'LIKE',
  'ORDER',
  'BY',
  'ASC',
  'DESC',
  'NULLS',
  'FIRST',
  'LAST',
  'LIMIT',
  'OFFSET',
  'GROUP',
  'HAVING',
  'TRUE',
  'FALSE',
  'NULL',
]);

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  query(): SoqlQuery {
    this.keyword('SELECT');
    const select = [this.path()];
    while (this.punct(',')) select.push(this.path());
    this.keyword('FROM');
    const from = this.name();
    const query: SoqlQuery = { select, from, orderBy: [] };
    if (this.isKeyword('WHERE')) {
      this.i++;
      query.where = this.or();
    }
    if (this.isKeyword('ORDER')) {
      this.i++;
      this.keyword('BY');
      do query.orderBy.push(this.orderItem());
      while (this.punct(','));
    }
    if (this.isKeyword('LIMIT')) {
      this.i++;
      query.limit = this.count('LIMIT');
    }
    if (this.isKeyword('OFFSET')) {
      this.i++;
      query.offset = this.count('OFFSET');
    }
    const extra = this.tokens[this.i];
    if (extra) throw this.unexpected(extra);
    return query;
  }

  private or(): Condition {
    let left = this.and();
    while (this.isKeyword('OR')) {
      this.i++;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Condition {
    let left = this.unary();
    while (this.isKeyword('AND')) {
      this.i++;
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): Condition {
    if (this.isKeyword('NOT')) {
      this.i++;
      return { kind: 'not', condition: this.unary() };
    }
    if (this.punct('(')) {
      const inner = this.or();
      this.expectPunct(')');
      return inner;
    }
    return this.comparison();
  }

  private comparison(): Condition {
    const path = this.path();
    const next = this.tokens[this.i];
    if (next?.kind === 'op') {
      this.i++;
      return { kind: 'compare', path, op: next.text as '=', value: this.literal() };
    }
    if (this.isKeyword('LIKE')) {
      this.i++;
      return { kind: 'compare', path, op: 'LIKE', value: this.literal() };
    }
    const negated = this.isKeyword('NOT');
    if (negated) this.i++;
    if (this.isKeyword('IN')) {
      this.i++;
      this.expectPunct('(');
      const values = [this.literal()];
      while (this.punct(',')) values.push(this.literal());
      this.expectPunct(')');
      return { kind: 'in', path, negated, values };
    }
    throw this.unexpected(next);
  }

  private orderItem(): OrderBy {
    const path = this.path();
    let descending = false;
    if (this.isKeyword('ASC') || this.isKeyword('DESC')) {
      descending = this.isKeyword('DESC');
      this.i++;
    }
    let nullsFirst = !descending;
    if (this.isKeyword('NULLS')) {
      this.i++;
      if (!this.isKeyword('FIRST') && !this.isKeyword('LAST')) throw this.unexpected(this.tokens[this.i]);
      nullsFirst = this.isKeyword('FIRST');
      this.i++;
    }
    return { path, descending, nullsFirst };
  }

  private literal(): Literal {
    const token = this.tokens[this.i++];
    switch (token?.kind) {
      case 'string':
        return { type: 'string', value: token.value };
      case 'number':
        return { type: 'number', value: token.value };
      case 'datetime':
        return { type: 'datetime', value: token.value };
      case 'date':
        return { type: 'date', value: token.value };
      case 'word':
        if (token.upper === 'TRUE' || token.upper === 'FALSE')
          return { type: 'boolean', value: token.upper === 'TRUE' };
        if (token.upper === 'NULL') return { type: 'null' };
        // Date literals such as TODAY or LAST_N_DAYS:7 are real SOQL, but not simulated here.
        throw new SoqlError('MALFORMED_QUERY', `unexpected token: '${token.text}'`);
      default:
        throw this.unexpected(token);
    }
  }

  private count(clause: string): number {
    const token = this.tokens[this.i++];
    if (token?.kind !== 'number' || !Number.isInteger(token.value) || token.value < 0)
      throw new SoqlError('MALFORMED_QUERY', `${clause} must be a non-negative integer`);
    return token.value;
  }

  private path(): string[] {
    const token = this.tokens[this.i];
    if (token?.kind !== 'word' || RESERVED.has(token.upper)) throw this.unexpected(token);
    this.i++;
    const next = this.tokens[this.i];
    // Functions (COUNT(), FIELDS(ALL), date functions) are real SOQL, but not simulated here.
    if (next?.kind === 'punct' && next.text === '(')
      throw new SoqlError('MALFORMED_QUERY', `${token.text}(): functions are not supported by the sandbox`);
    return token.text.split('.');
  }

  private name(): string {
    const path = this.path();
    if (path.length !== 1) throw new SoqlError('MALFORMED_QUERY', `unexpected token: '${path.join('.')}'`);
    return path[0]!;
  }

  private isKeyword(word: string): boolean {
    const token = this.tokens[this.i];
    return token?.kind === 'word' && token.upper === word;
  }

  private keyword(word: string): void {
    if (!this.isKeyword(word)) throw this.unexpected(this.tokens[this.i], word);
    this.i++;
  }

  private punct(text: string): boolean {
    const token = this.tokens[this.i];
    if (token?.kind === 'punct' && token.text === text) {
      this.i++;
      return true;
    }
    return false;
  }

  private expectPunct(text: string): void {
    if (!this.punct(text)) throw this.unexpected(this.tokens[this.i], text);
  }

  private unexpected(token: Token | undefined, expected?: string): SoqlError {
    const shown = !token
      ? '<EOF>'
      : 'text' in token
        ? token.text
        : token.kind === 'string'
          ? `'${token.value}'`
          : String(token.value);
    return new SoqlError(
      'MALFORMED_QUERY',
      `unexpected token: '${shown}'${expected ? ` (expecting '${expected}')` : ''}`,
    );
  }
}

export function parseSoql(text: string): SoqlQuery {
  return new Parser(tokenize(text)).query();
}

// ---------------------------------------------------------------------------------------------
// Field resolution

/** Fields of the polymorphic `Name` entity (`Who`, `What`, `Owner` on Lead and Task). */
const NAME_FIELDS: SoqlField[] = [
  ['Id', 'id'],
  ['Name', 'string'],
  ['Type', 'picklist'],
  ['FirstName', 'string'],
  ['LastName', 'string'],
  ['Email', 'email'],
  ['IsActive', 'boolean'],
  ['Title', 'string'],
  ['Phone', 'phone'],
].map(([name, type]) => ({
  name: name!,
  type: type!,
  filterable: true,
  referenceTo: [],
  relationshipName: null,
}));

interface Hop {
  relationship: string;
  idField: string;
  /** Target sObject, or null for a polymorphic lookup (the `Name` entity). */
  target: string | null;
}

interface ResolvedPath {
  hops: Hop[];
  field: SoqlField;
}

const lower = (s: string) => s.toLowerCase();

function resolvePath(org: SoqlOrg, sObject: string, path: string[]): ResolvedPath {
  const hops: Hop[] = [];
  let entity: string | null = sObject;
  for (const [depth, part] of path.entries()) {
    const fields: SoqlField[] = entity === null ? NAME_FIELDS : (org.describe(entity)?.fields ?? []);
    if (depth === path.length - 1) {
      const field = fields.find((f) => lower(f.name) === lower(part));
      if (!field)
        throw new SoqlError(
          'INVALID_FIELD',
          `No such column '${part}' on entity '${entity ?? 'Name'}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
        );
      return { hops, field };
    }
    const lookup = fields.find((f) => f.relationshipName && lower(f.relationshipName) === lower(part));
    if (!lookup)
      throw new SoqlError(
        'INVALID_FIELD',
        `Didn't understand relationship '${part}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    entity = lookup.referenceTo.length === 1 ? lookup.referenceTo[0]! : null;
    hops.push({ relationship: lookup.relationshipName!, idField: lookup.name, target: entity });
  }
  throw new SoqlError('MALFORMED_QUERY', 'empty field path');
}

/** The related record a hop leads to, as the `Name` entity sees it when polymorphic. */
function follow(
  org: SoqlOrg,
  record: SoqlRecord,
  hop: Hop,
): { sObject: string; record: SoqlRecord } | undefined {
  const id = record[hop.idField];
  if (typeof id !== 'string') return undefined;
  const found = org.byId(id);
  if (!found || (hop.target && found.sObject !== hop.target)) return undefined;
  if (hop.target) return found;
  return { sObject: found.sObject, record: { ...found.record, Type: found.sObject } };
}

function valueAt(org: SoqlOrg, record: SoqlRecord, resolved: ResolvedPath): SoqlValue {
  let current: SoqlRecord | undefined = record;
  for (const hop of resolved.hops) {
    current = follow(org, current, hop)?.record;
    if (!current) return null;
  }
  return current[resolved.field.name] ?? null;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const STRING_TYPES = new Set([
  'string',
  'email',
  'phone',
  'url',
  'picklist',
  'multipicklist',
  'combobox',
  'textarea',
  'id',
  'reference',
]);
const NUMBER_TYPES = new Set(['int', 'double', 'currency', 'percent']);
const ID_TYPES = new Set(['id', 'reference']);

/** Salesforce's error when a literal does not fit the field's type. */
function checkLiteral(field: SoqlField, literal: Literal): void {
  if (literal.type === 'null') return;
  const expected = STRING_TYPES.has(field.type)
    ? 'string'
    : NUMBER_TYPES.has(field.type)
      ? 'number'
      : field.type === 'datetime'
        ? 'datetime'
        : field.type === 'date'
          ? 'date'
          : 'boolean';
  if (literal.type === expected) return;
  const soapType = {
    string: 'string',
    number: 'double',
    datetime: 'dateTime',
    date: 'date',
    boolean: 'boolean',
  }[expected];
  throw new SoqlError(
    'INVALID_FIELD',
    `value of filter criterion for field '${field.name}' must be of type ${soapType} and should ${
      expected === 'string' ? '' : 'not '
    }be enclosed in quotes`,
  );
}

function checkFilterable(field: SoqlField, use: 'filtered' | 'sorted'): void {
  if (!field.filterable)
    throw new SoqlError('INVALID_FIELD', `field '${field.name}' can not be ${use} in a query call`);
}

/** 18-character, case-safe form of a 15-character record id (Salesforce's checksum suffix). */
export function to18(id: string): string {
  if (id.length !== 15) return id;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) if (/[A-Z]/.test(id[chunk * 5 + i]!)) bits |= 1 << i;
    suffix += alphabet[bits];
  }
  return id + suffix;
}

/** A comparable form of a field value or literal, by field type; null stays null. */
function comparable(field: SoqlField, value: SoqlValue | undefined): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (field.type === 'datetime') return typeof value === 'number' ? value : instant(String(value));
  if (ID_TYPES.has(field.type)) return to18(String(value));
  if (STRING_TYPES.has(field.type)) return String(value).toLowerCase();
  if (NUMBER_TYPES.has(field.type)) return Number(value);
  return value;
}

function literalValue(literal: Literal): SoqlValue {
  return literal.type === 'null' ? null : literal.value;
}

function likeRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) source += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'i');
}

type Predicate = (record: SoqlRecord) => boolean;

function compile(org: SoqlOrg, sObject: string, condition: Condition): Predicate {
  switch (condition.kind) {
    case 'and': {
      const [l, r] = [compile(org, sObject, condition.left), compile(org, sObject, condition.right)];
      return (rec) => l(rec) && r(rec);
    }
    case 'or': {
      const [l, r] = [compile(org, sObject, condition.left), compile(org, sObject, condition.right)];
      return (rec) => l(rec) || r(rec);
    }
    case 'not': {
      const inner = compile(org, sObject, condition.condition);
      return (rec) => !inner(rec);
    }
    case 'in': {
      const resolved = resolvePath(org, sObject, condition.path);
      checkFilterable(resolved.field, 'filtered');
      for (const v of condition.values) checkLiteral(resolved.field, v);
      const wanted = condition.values.map((v) => comparable(resolved.field, literalValue(v)));
      return (rec) => {
        const found = wanted.includes(comparable(resolved.field, valueAt(org, rec, resolved)));
        return condition.negated ? !found : found;
      };
    }
    case 'compare': {
      const resolved = resolvePath(org, sObject, condition.path);
      const { field } = resolved;
      checkFilterable(field, 'filtered');
      checkLiteral(field, condition.value);
      if (condition.op === 'LIKE') {
        if (!STRING_TYPES.has(field.type) || condition.value.type !== 'string')
          throw new SoqlError(
            'INVALID_FIELD',
            `invalid operator on ${field.type} field: LIKE on '${field.name}'`,
          );
        const regex = likeRegex(condition.value.value);
        return (rec) => {
          const value = valueAt(org, rec, resolved);
          return value !== null && regex.test(String(value));
        };
      }
      const wanted = comparable(field, literalValue(condition.value));
      const op = condition.op;
      return (rec) => {
        const value = comparable(field, valueAt(org, rec, resolved));
        // SOQL treats null as a value: `= null` finds blanks and `!= 'x'` includes them.
        if (op === '=') return value === wanted;
        if (op === '!=') return value !== wanted;
        if (value === null || wanted === null) return false;
        if (op === '<') return value < wanted;
        if (op === '<=') return value <= wanted;
        if (op === '>') return value > wanted;
        return value >= wanted;
      };
    }
  }
}

function compareForOrder(a: unknown, b: unknown, order: OrderBy): number {
  if (a === null && b === null) return 0;
  if (a === null) return order.nullsFirst ? -1 : 1;
  if (b === null) return order.nullsFirst ? 1 : -1;
  const sign = order.descending ? -1 : 1;
  return (a! < b! ? -1 : a! > b! ? 1 : 0) * sign;
}

/** A selected field written into an answer row, nesting relationships as Salesforce does. */
function project(
  org: SoqlOrg,
  record: SoqlRecord,
  resolved: ResolvedPath,
  row: SoqlRow,
  version: string,
): void {
  let current: SoqlRecord = record;
  let target = row;
  for (const hop of resolved.hops) {
    const related = follow(org, current, hop);
    if (!related) {
      target[hop.relationship] ??= null;
      return;
    }
    let nested = target[hop.relationship] as SoqlRow | null | undefined;
    if (!nested) {
      nested = {
        attributes: {
          type: hop.target ?? 'Name',
          url: `/services/data/v${version}/sobjects/${related.sObject}/${String(related.record.Id)}`,
        },
      };
      target[hop.relationship] = nested;
    }
    target = nested;
    current = related.record;
  }
  target[resolved.field.name] = current[resolved.field.name] ?? null;
}

export interface SoqlResult {
  sObject: string;
  /** Answer rows: `attributes` plus the selected fields, relationship fields nested. */
  rows: SoqlRow[];
}

/** Parses and runs a query; throws SoqlError with Salesforce's error code and message. */
export function runSoql(text: string, org: SoqlOrg, version: string): SoqlResult {
  const query = parseSoql(text);
  const described = org.describe(query.from);
  if (!described)
    throw new SoqlError(
      'INVALID_TYPE',
      `sObject type '${query.from}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
    );
  const sObject = described.name;
  const selected = query.select.map((path) => resolvePath(org, sObject, path));
  const where = query.where ? compile(org, sObject, query.where) : () => true;
  const orders = query.orderBy.map((order) => {
    const resolved = resolvePath(org, sObject, order.path);
    checkFilterable(resolved.field, 'sorted');
    return { order, resolved };
  });

  let matching = org.records(sObject).filter(where);
  if (orders.length)
    matching = [...matching].sort((a, b) => {
      for (const { order, resolved } of orders) {
        const diff = compareForOrder(
          comparable(resolved.field, valueAt(org, a, resolved)),
          comparable(resolved.field, valueAt(org, b, resolved)),
          order,
        );
        if (diff) return diff;
      }
      return 0;
    });
  const start = query.offset ?? 0;
  matching = matching.slice(start, query.limit === undefined ? undefined : start + query.limit);

  const rows = matching.map((record) => {
    const row: SoqlRow = {
      attributes: {
        type: sObject,
        url: `/services/data/v${version}/sobjects/${sObject}/${String(record.Id)}`,
      },
    };
    for (const resolved of selected) project(org, record, resolved, row, version);
    return row;
  });
  return { sObject, rows };
}
