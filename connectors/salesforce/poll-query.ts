import { soqlDatetime } from './soql.js';

/** The SOQL of one poll page: keyset-paginated on (SystemModstamp, Id), oldest first. Pure. */

/** Where a page starts: every record from `stamp` on, or only those after (`stamp`, `afterId`). */
export interface Cursor {
  stamp: number;
  afterId?: string;
}

/**
 * The keyset condition of a page. The first page of a run reads from the watermark inclusively
 * (records sharing its instant must not be skipped; re-reading them is harmless, their ids are
 * stable). Later pages continue strictly after the last record read, so a page whose records all
 * share one instant cannot be read again and again.
 */
export function keysetCondition(cursor: Cursor): string {
  const at = soqlDatetime(cursor.stamp);
  if (cursor.afterId === undefined) return `SystemModstamp >= ${at}`;
  return `((SystemModstamp = ${at} AND Id > '${cursor.afterId}') OR SystemModstamp > ${at})`;
}

export interface PageQuery {
  sObject: string;
  fields: readonly string[];
  /** A further criterion, ANDed with the keyset condition (filterable fields only). */
  filter?: string;
}

export function pageQuery(query: PageQuery, cursor: Cursor, pageSize: number): string {
  const where = [query.filter, keysetCondition(cursor)].filter(Boolean).join(' AND ');
  return (
    `SELECT ${[...new Set(query.fields)].join(', ')} FROM ${query.sObject} WHERE ${where} ` +
    `ORDER BY SystemModstamp, Id LIMIT ${pageSize}`
  );
}
