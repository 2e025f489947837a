import { z } from 'zod';
import { autoAssign, methodNotAllowed, parseBody, type ApiAnswer, type ApiRequest } from './api.js';
import { notFound, RECORD_ID, saveError, SfError } from './errors.js';
import { deleteRecord, recordView, saveRecord } from './sobjects.js';
import type { SalesforceState } from './state.js';

/** sObject Collections: create, update and delete up to 200 records, retrieve up to 2,000 by id. */

const COLLECTION_MAX = 200;
const CollectionBody = z.object({
  allOrNone: z.boolean().default(false),
  records: z.array(z.looseObject({ attributes: z.object({ type: z.string().min(1) }) })),
});
const RetrieveBody = z.object({ ids: z.array(z.string()).min(1), fields: z.array(z.string()).min(1) });

type SaveResult = { id?: string; success: boolean; errors: ReturnType<typeof saveError>[] };

/** Runs each record's operation in input order; with allOrNone, one failure rolls all back. */
function collection(state: SalesforceState, allOrNone: boolean, items: (() => string)[]): SaveResult[] {
  const snapshot = allOrNone ? state.snapshot() : undefined;
  const results: SaveResult[] = items.map((run) => {
    try {
      return { id: run(), success: true, errors: [] };
    } catch (err) {
      if (!(err instanceof SfError)) throw err;
      return { success: false, errors: [saveError(err)] };
    }
  });
  if (!snapshot || results.every((r) => r.success)) return results;
  state.restore(snapshot);
  return results.map((r) =>
    r.success
      ? {
          success: false,
          errors: [
            {
              statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
              message:
                'Record rolled back because not all records were valid and the request was using AllOrNone header',
              fields: [],
            },
          ],
        }
      : r,
  );
}

export function collections(state: SalesforceState, req: ApiRequest, parts: string[]): ApiAnswer {
  const [type] = parts;
  if (type !== undefined) {
    // Retrieve by ids: POST /composite/sobjects/{type} {ids, fields}.
    if (req.method !== 'POST' || parts.length > 1) throw notFound();
    const describe = state.describeOf(type);
    const { ids, fields } = parseBody(RetrieveBody, req.body);
    if (ids.length > 2_000)
      throw new SfError(
        400,
        'EXCEEDED_ID_LIMIT',
        'record limit reached. cannot submit more than 2000 records into this call',
      );
    const records = ids.map((id) => {
      const record = RECORD_ID.test(id) ? state.get(describe.name, id) : undefined;
      return record ? recordView(describe, record, req.version, fields) : null;
    });
    return { status: 200, body: records };
  }
  const inherited = req.composite?.allOrNone ?? false;
  if (req.method === 'DELETE') {
    const ids = (req.query.get('ids') ?? '').split(',').filter(Boolean);
    if (ids.length > COLLECTION_MAX) throw tooMany();
    const allOrNone = inherited || req.query.get('allOrNone') === 'true';
    const results = collection(
      state,
      allOrNone,
      ids.map((id) => () => {
        const found = state.find(id);
        if (!found) throw new SfError(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
        deleteRecord(state, found.sObject, id);
        return found.record.Id;
      }),
    );
    return { status: 200, body: results };
  }
  if (req.method !== 'POST' && req.method !== 'PATCH') throw methodNotAllowed(req);
  const body = parseBody(CollectionBody, req.body);
  if (body.records.length > COLLECTION_MAX) throw tooMany();
  const creating = req.method === 'POST';
  const results = collection(
    state,
    inherited || body.allOrNone,
    body.records.map((record) => () => {
      const { attributes, ...fields } = record;
      const idKey = Object.keys(fields).find((k) => k.toLowerCase() === 'id');
      const id = idKey === undefined ? undefined : fields[idKey];
      if (idKey !== undefined) delete fields[idKey];
      if (creating && id !== undefined)
        throw new SfError(400, 'INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
      if (!creating && typeof id !== 'string')
        throw new SfError(400, 'MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']);
      return saveRecord(state, attributes.type, creating ? undefined : (id as string), fields, {
        autoAssign: autoAssign(req),
      });
    }),
  );
  return { status: 200, body: results };
}

function tooMany(): SfError {
  return new SfError(
    400,
    'EXCEEDED_ID_LIMIT',
    `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`,
  );
}
