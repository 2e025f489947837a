import type { ApiAnswer, ApiRequest } from './api.js';
import { SfError } from './errors.js';
import type { SalesforceState } from './state.js';
import { SoqlError, runSoql, type SoqlOrg } from '../soql.js';

/** SOQL query and its query-locator pages (`/query`, `/query/01g…-N`). */

const BATCH_SIZE = { min: 200, max: 2_000, default: 2_000 };

function batchSize(req: ApiRequest): number {
  const asked = /batchSize=(\d+)/i.exec(req.header('sforce-query-options') ?? '')?.[1];
  if (!asked) return BATCH_SIZE.default;
  return Math.min(BATCH_SIZE.max, Math.max(BATCH_SIZE.min, Number(asked)));
}

function soqlOrg(state: SalesforceState): SoqlOrg {
  return {
    describe: (name) => state.lookupDescribe(name),
    records: (name) => state.records(name),
    byId: (id) => state.find(id),
  };
}

export function queryPage(
  state: SalesforceState,
  req: ApiRequest,
  locator: string,
  offset: number,
): ApiAnswer {
  const rows = state.cursors.get(locator);
  if (!rows) throw new SfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
  const size = batchSize(req);
  const end = offset + size;
  const more = end < rows.length;
  if (!more) state.cursors.delete(locator);
  return {
    status: 200,
    body: {
      totalSize: rows.length,
      done: !more,
      ...(more ? { nextRecordsUrl: `/services/data/v${req.version}/query/${locator}-${end}` } : {}),
      records: rows.slice(offset, end),
    },
  };
}

export function runQuery(state: SalesforceState, req: ApiRequest): ApiAnswer {
  const q = req.query.get('q');
  if (!q) throw new SfError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
  try {
    const { rows } = runSoql(q, soqlOrg(state), req.version);
    return queryPage(state, req, state.newLocator(rows), 0);
  } catch (err) {
    if (err instanceof SoqlError) throw new SfError(400, err.errorCode, err.message);
    throw err;
  }
}
