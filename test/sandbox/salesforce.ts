/**
 * The subset of Salesforce's REST API that leadflow uses (sObjects, SOQL query, Composite, sObject
 * Collections, describe, OAuth token grants), in memory, with Salesforce's answer and error shapes
 * and its validation rules, so the real jsforce client runs against it as it would against an org.
 * Also `sendOutboundMessage`, which POSTs an Outbound Message shaped exactly like Salesforce's.
 * One module per concern under ./salesforce/; this file is what tests and the sandbox server import.
 */

export { defaultDescribes, LEAD_STATUSES, TASK_STATUSES } from './salesforce/describe.js';
export type { FieldDescribe, PicklistValue, SObjectDescribe } from './salesforce/describe.js';
export { SfError, sfDatetime } from './salesforce/errors.js';
export {
  admitSalesforce,
  isSalesforcePath,
  salesforceRouter,
  salesforceServerError,
} from './salesforce/http.js';
export {
  isAck,
  OUTBOUND_NAMESPACE,
  OutboundMessage,
  outboundMessageXml,
  sendOutboundMessage,
} from './salesforce/outbound.js';
export { saveRecord } from './salesforce/sobjects.js';
export {
  ADMIN_USER_ID,
  DEFAULT_API_VERSION,
  DEFAULT_ORG_ID,
  INACTIVE_USER_ID,
  MANAGER_USER_ID,
  REP_USER_ID,
  SalesforceFaults,
  SalesforceState,
} from './salesforce/state.js';
export type { FieldValue, SalesforceOAuthApp, SfRecord, ValidationRule } from './salesforce/state.js';
