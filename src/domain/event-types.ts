/**
 * Event types leadflow knows without being told: those the connectors emit on their own (Salesforce
 * activities, the default mappings of HubSpot email events, marketing events and Salesforce
 * campaigns) and those the handoff note has words for. A config may add more (its mappings, and
 * `webhooks.events.types` for what your own systems send). Append only, never reorder: a timeline
 * line stores a built-in type as its index here (store/timeline.ts).
 */
export const BUILT_IN_EVENT_TYPES = [
  'page_view',
  'form_submission',
  'demo_request',
  'email_open',
  'email_click',
  'email_bounce',
  'email_unsubscribe',
  'webinar_registered',
  'webinar_attended',
  'campaign_response',
  'meeting',
  'sales_call',
  'sales_email',
  'sales_task',
] as const;
