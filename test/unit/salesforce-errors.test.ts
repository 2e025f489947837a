import { describe, expect, it } from 'vitest';
import { compositeFailure, toSalesforceFailure } from '../../connectors/salesforce/errors.js';
import { classifyFailure, type RetryDecision } from '../../src/queue/retry.js';

const NOW = Date.UTC(2026, 10, 24, 12);

/** What jsforce throws for an error answer: name = errorCode, raw entry in `data`, no status. */
const jsforceError = (errorCode: string, message: string, data: unknown = { message, errorCode }) =>
  Object.assign(new Error(message), { name: errorCode, errorCode, data });

/** Every shape one Salesforce error entry reaches us in. */
const FORMS: [string, (code: string, message: string, status: number) => unknown][] = [
  ['jsforce error', (code, message) => jsforceError(code, message)],
  [
    'composite subresponse',
    (code, message, status) => ({
      httpStatusCode: status,
      referenceId: 'r',
      body: [{ errorCode: code, message }],
    }),
  ],
  [
    'collections result (statusCode)',
    (code, message) => ({ success: false, errors: [{ statusCode: code, message, fields: [] }] }),
  ],
  [
    'collections result (errorCode)',
    (code, message) => ({ success: false, errors: [{ errorCode: code, message }] }),
  ],
  ['collections record error', (code, message) => ({ statusCode: code, message, fields: [] })],
  ['REST error list', (code, message) => [{ message, errorCode: code }]],
];

const CODES: [code: string, status: number, action: RetryDecision['action']][] = [
  ['REQUEST_LIMIT_EXCEEDED', 403, 'pause'],
  ['UNABLE_TO_LOCK_ROW', 400, 'backoff'],
  ['SERVER_UNAVAILABLE', 503, 'backoff'],
  ['UNKNOWN_EXCEPTION', 500, 'backoff'],
  ['INVALID_SESSION_ID', 401, 'auth_outage'],
  ['INVALID_FIELD', 400, 'fail'],
  ['FIELD_CUSTOM_VALIDATION_EXCEPTION', 400, 'fail'],
  ['INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', 400, 'fail'],
  ['NOT_FOUND', 404, 'fail'],
  ['REQUIRED_FIELD_MISSING', 400, 'fail'],
  ['INACTIVE_OWNER_OR_USER', 400, 'fail'],
  ['MALFORMED_ID', 400, 'fail'],
  ['STRING_TOO_LONG', 400, 'fail'],
  // Reaches the classifier only where no conversion could be followed: the record stays read-only.
  ['CANNOT_UPDATE_CONVERTED_LEAD', 400, 'fail'],
];

const TRIGGER_LOCK =
  'LeadTrigger: execution of AfterUpdate caused by: System.DmlException: Update failed. First exception on row 0 with id 00Q000000000001AAA; first error: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record: []';

describe('toSalesforceFailure × classifyFailure', () => {
  const table = CODES.flatMap(([code, status, action]) =>
    FORMS.map(
      ([form, make]) => [code, form, make(code, `${code} happened`, status), status, action] as const,
    ),
  );

  it.each(table)('%s as %s', (code, _form, input, status, action) => {
    const failure = toSalesforceFailure(input);
    expect(failure).toMatchObject({ crm: 'salesforce', code, status, message: `${code} happened` });
    expect(failure.network).toBeUndefined();
    const decision = classifyFailure(failure, NOW);
    expect(decision.action).toBe(action);
    if (action === 'fail') expect(decision.reason).toContain(`${code} happened`);
  });

  describe('UNABLE_TO_LOCK_ROW wherever it hides', () => {
    const wrapped: [string, string][] = [
      ['CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY', TRIGGER_LOCK],
      ['APEX_ERROR', `System.DmlException: ${TRIGGER_LOCK}`],
      [
        'UNKNOWN_EXCEPTION',
        'unable to obtain exclusive access to this record or 1 records: 00Q000000000001AAA',
      ],
    ];
    const cases = wrapped.flatMap(([code, message]) =>
      FORMS.map(([form, make]) => [code, form, make(code, message, 400)] as const),
    );
    it.each(cases)('in a %s message, as %s', (_code, _form, input) => {
      const failure = toSalesforceFailure(input);
      expect(failure.code).toBe('UNABLE_TO_LOCK_ROW');
      expect(classifyFailure(failure, NOW).action).toBe('backoff');
    });

    const halted = { errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back.' };
    const rolledBack = { statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back.' };
    const lock = {
      errorCode: 'UNABLE_TO_LOCK_ROW',
      message: 'unable to obtain exclusive access to this record',
    };
    it.each<[string, unknown]>([
      [
        'composite body with a halted sibling first',
        { httpStatusCode: 400, referenceId: 'r', body: [halted, lock] },
      ],
      ['save result with a rolled-back sibling first', { success: false, errors: [rolledBack, lock] }],
      [
        'jsforce MULTIPLE_API_ERRORS',
        jsforceError('MULTIPLE_API_ERRORS', 'Multiple errors returned.', [halted, lock]),
      ],
      ['REST error list', [halted, lock]],
    ])('next to its siblings: %s', (_label, input) => {
      const failure = toSalesforceFailure(input);
      expect(failure).toMatchObject({ code: 'UNABLE_TO_LOCK_ROW', message: lock.message });
      expect(classifyFailure(failure, NOW).action).toBe('backoff');
    });
  });

  it('reports the real cause, not its PROCESSING_HALTED siblings, across composite subresponses', () => {
    const halted = { errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back.' };
    const failure = compositeFailure([
      { httpStatusCode: 400, referenceId: 'record', body: [halted] },
      {
        httpStatusCode: 400,
        referenceId: 'task',
        body: [
          { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Subject is required', fields: [] },
        ],
      },
    ]);
    expect(failure).toMatchObject({
      referenceId: 'task',
      status: 400,
      code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
      message: 'Subject is required',
    });
    expect(classifyFailure(failure!, NOW).action).toBe('fail');
    expect(compositeFailure([{ httpStatusCode: 204, referenceId: 'record' }])).toBeUndefined();
  });

  it('retries a record rolled back only because another one failed', () => {
    for (const input of [
      {
        success: false,
        errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'rolled back' }],
      },
      {
        httpStatusCode: 400,
        referenceId: 'r',
        body: [{ errorCode: 'PROCESSING_HALTED', message: 'halted' }],
      },
    ])
      expect(classifyFailure(toSalesforceFailure(input), NOW).action).toBe('backoff');
  });

  it.each<[string, unknown]>([
    ['ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    [
      'node-fetch ECONNREFUSED',
      Object.assign(new Error('request to http://x failed, reason: connect ECONNREFUSED 127.0.0.1:1'), {
        name: 'FetchError',
        code: 'ECONNREFUSED',
        type: 'system',
      }),
    ],
    ['ETIMEDOUT', Object.assign(new Error('connect ETIMEDOUT'), { errno: 'ETIMEDOUT' })],
    ['socket hang up', new Error('socket hang up')],
    ['undici fetch failed', new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })],
    ['AbortError', Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' })],
    ['our timeout', Object.assign(new Error('timed out after 20000 ms'), { name: 'TimeoutError' })],
    [
      'a refresh that could not reach the token endpoint',
      new Error('Unable to refresh session due to: fetch failed'),
    ],
  ])('network: %s → backoff', (_label, err) => {
    const failure = toSalesforceFailure(err);
    expect(failure).toMatchObject({ crm: 'salesforce', network: true });
    expect(failure.status).toBeUndefined();
    expect(classifyFailure(failure, NOW).action).toBe('backoff');
  });

  it('a refused refresh is an invalid session (jsforce hides the status)', () => {
    const failure = toSalesforceFailure(
      new Error(
        'Unable to refresh session due to: salesforce 400 invalid_grant: token request failed: expired',
      ),
    );
    expect(failure).toMatchObject({ status: 401, code: 'INVALID_SESSION_ID' });
    expect(classifyFailure(failure, NOW).action).toBe('auth_outage');
  });

  it('a non-JSON error answer keeps its HTTP status', () => {
    const failure = toSalesforceFailure(jsforceError('ERROR_HTTP_502', 'Bad Gateway', 'Bad Gateway'));
    expect(failure).toMatchObject({ status: 502, code: 'ERROR_HTTP_502' });
    expect(classifyFailure(failure, NOW).action).toBe('backoff');
  });
});
