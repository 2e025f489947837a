import { describe, expect, it } from 'vitest';
import { BUILT_IN_EVENT_TYPES } from '../../src/domain/event-types.js';

describe('built-in event types', () => {
  it('keep their order: stored timeline lines name them by index', () => {
    expect(BUILT_IN_EVENT_TYPES.join(' ')).toBe(
      'page_view form_submission demo_request email_open email_click email_bounce email_unsubscribe ' +
        'webinar_registered webinar_attended campaign_response meeting sales_call sales_email sales_task',
    );
  });
});
