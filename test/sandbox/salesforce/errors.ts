/** Salesforce's REST error shapes and its record id and datetime formats. */

/** A Salesforce error, answered as `[{message, errorCode, fields}]`. */
export class SfError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
  }
}

export const errorBody = (e: SfError) => [
  { message: e.message, errorCode: e.errorCode, ...(e.fields ? { fields: e.fields } : {}) },
];
/** Per-record errors in collection results use `statusCode`, not `errorCode`. */
export const saveError = (e: SfError) => ({
  statusCode: e.errorCode,
  message: e.message,
  fields: e.fields ?? [],
});

export const notFound = () => new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');

/** Salesforce's datetime format: `2026-11-24T09:48:00.000+0000`. */
export function sfDatetime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

export const RECORD_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
