import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCheck } from '../../connectors/check.js';
import { checkPortal, readPortalFacts, unsubscribeNeededBy } from '../../connectors/hubspot/check.js';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { loadConfig } from '../../src/config/load.js';
import { HubSpotPolling } from '../../src/config/schema.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { customProperty } from '../sandbox/hubspot.js';

describe('config check against a HubSpot portal (sandbox)', () => {
  const config = loadConfig('config/default.yaml');
  let sandbox: Sandbox;
  const facts = (polling: HubSpotPolling = config.hubspot.polling) =>
    readPortalFacts(
      createHubSpotConnector({ accessToken: 'check', basePath: sandbox.url, fields: config.hubspot.fields }),
      polling,
      unsubscribeNeededBy(config),
    );

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());

  it('passes the default config, warning only about our own properties not created yet', async () => {
    const lines = checkPortal(config, await facts());
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.what)).toEqual([
      'hubspot.fields.profile.dispositionReason',
      'hubspot.fields.score',
      'hubspot.fields.fitScore',
      'hubspot.fields.engagementScore',
      'hubspot.fields.scoreReasons',
      'hubspot.fields.badData',
    ]);
    expect(formatCheck(lines)).toMatch(/portal OK, 6 warning\(s\)\n$/);
  });

  it('reports a customized stage, a missing status, a deactivated rep and a wrong property type', async () => {
    const stages = sandbox.hubspot.properties.get('lifecyclestage')!;
    stages.options = stages.options.filter((o) => o.value !== 'other');
    const statuses = sandbox.hubspot.properties.get('hs_lead_status')!;
    statuses.options = statuses.options.filter((o) => o.value !== 'BAD_TIMING');
    sandbox.hubspot.owners.find((o) => o.id === '102')!.archived = true;
    sandbox.hubspot.properties.set('leadflow_score', customProperty('leadflow_score', 'string', 'text'));
    const errors = checkPortal(config, await facts()).filter((l) => l.level === 'error');
    expect(errors.map((l) => `${l.what}: ${l.message}`)).toEqual([
      'hubspot.fields.score: "leadflow_score" is a string property; scores need a number property',
      expect.stringMatching(/^hubspot\.fields\.stages\.disqualified: "other" is not a lifecyclestage option/),
      expect.stringMatching(/^dispositions\.statuses\[1\]: "BAD_TIMING" is not a hs_lead_status option/),
      'routing.reps[1]: owner 102 (Ben Okafor) is deactivated',
    ]);
  });

  it('refuses a property leadflow writes that HubSpot calculates (read-only)', async () => {
    sandbox.reset();
    const fields = {
      ...config.hubspot.fields,
      badData: 'notes_last_contacted',
      unmarket: { unsubscribeAllEmail: true, property: { name: 'hs_analytics_last_url', value: 'x' } },
    };
    const readOnly = { ...config, hubspot: { ...config.hubspot, fields } };
    const errors = checkPortal(readOnly, await facts()).filter((l) => l.level === 'error');
    expect(errors.map((l) => `${l.what}: ${l.message}`)).toEqual([
      'hubspot.fields.unmarket.property.name: "hs_analytics_last_url" is read-only in HubSpot (it calculates the value); leadflow writes it',
      'hubspot.fields.badData: "notes_last_contacted" is read-only in HubSpot (it calculates the value); leadflow writes it',
    ]);
  });

  it('warns when a numeric rule bound falls inside one numemployees range option', async () => {
    const fit = config.scoring.fit.map((rule) =>
      rule.id === 'company-size-mid-market' ? { ...rule, match: { min: 200, max: 10_000 } } : rule,
    );
    const i = fit.findIndex((rule) => rule.id === 'company-size-mid-market');
    const lines = checkPortal({ ...config, scoring: { ...config.scoring, fit } }, await facts());
    expect(lines.filter((l) => l.what.startsWith('scoring.'))).toEqual([
      {
        level: 'warn',
        what: `scoring.fit[${i}]`,
        message:
          'company-size-mid-market: 200 falls inside the numemployees option "100-500", which counts as its midpoint',
      },
    ]);
  });

  it('names the scope a refused read needs', async () => {
    const refused = {
      ...(await facts()),
      probes: [{ scope: 'crm.objects.owners.read', ok: false, status: 403, message: 'MISSING_SCOPES' }],
    };
    const [line] = checkPortal(config, refused);
    expect(line).toEqual({
      level: 'error',
      what: 'scope crm.objects.owners.read',
      message: 'HTTP 403: MISSING_SCOPES — add this scope to the app',
    });
  });

  it('probes the scopes of the enabled pollers only, naming the config path that needs a missing one', async () => {
    const form = '0a1b2c3d-4e5f-6789-abcd-ef0123456789';
    sandbox.hubspot.formSubmissions.set(form, []);
    const polling = HubSpotPolling.parse({
      contacts: { everySeconds: 60 },
      emailEvents: { everySeconds: 300 },
      forms: { everySeconds: 300, forms: [{ guid: form, name: 'Talk to sales' }] },
      marketingEvents: {
        everySeconds: 300,
        events: [{ externalAccountId: 'zoom', externalEventId: 'w-1', name: 'Masterclass' }],
      },
    });
    sandbox.hubspot.grantedScopes = new Set([
      'crm.objects.contacts.read',
      'crm.objects.contacts.write',
      'crm.schemas.contacts.read',
      'crm.objects.owners.read',
      'crm.objects.marketing_events.read',
    ]);
    try {
      const lines = checkPortal(config, await facts(polling)).filter((l) => l.what.startsWith('scope '));
      const refused =
        "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.";
      expect(lines.map((l) => [l.level, l.what, l.message])).toEqual([
        ['ok', 'scope crm.objects.contacts.read', 'granted'],
        ['ok', 'scope crm.schemas.contacts.read', 'granted'],
        ['ok', 'scope crm.objects.owners.read', 'granted'],
        ['ok', 'scope crm.objects.contacts.read (notes)', 'granted'],
        [
          'error',
          'scope content',
          `HTTP 403: read email events: ${refused} — add this scope to the app (hubspot.polling.emailEvents needs it)`,
        ],
        [
          'error',
          'scope forms',
          `HTTP 403: read submissions of form ${form}: ${refused} — add this scope to the app (hubspot.polling.forms needs it)`,
        ],
        ['ok', 'scope crm.objects.marketing_events.read', 'granted (for hubspot.polling.marketingEvents)'],
        [
          'error',
          'scope communication_preferences.read_write',
          `HTTP 403: read unsubscribe-all status: ${refused} — add this scope to the app (dispositions.reasons.do_not_contact needs it)`,
        ],
      ]);
      // Errors, so `config check --crm` exits non-zero.
      expect(formatCheck(checkPortal(config, await facts(polling)))).toMatch(/^✗ scope content: HTTP 403/m);

      // Pollers that are off are not probed: their scopes are not asked for.
      sandbox.calls.length = 0;
      const base = checkPortal(config, await facts({}));
      expect(base.filter((l) => l.what.startsWith('scope ') && l.level !== 'ok').map((l) => l.what)).toEqual([
        'scope communication_preferences.read_write',
      ]);
      expect(sandbox.calls.map((c) => c.path).filter((p) => !p.startsWith('/crm/'))).toEqual([
        '/communication-preferences/v4/statuses/scope-probe%40leadflow.example/unsubscribe-all',
      ]);
      // Nor is the unsubscribe scope when no disposition reason unmarkets.
      const reasons = { competitor: { action: 'disqualify' as const } };
      expect(unsubscribeNeededBy({ ...config, dispositions: { ...config.dispositions, reasons } })).toBe(
        undefined,
      );
    } finally {
      sandbox.hubspot.grantedScopes = undefined;
    }
  });

  it("answers a missing scope with HubSpot's MISSING_SCOPES shape", async () => {
    sandbox.hubspot.grantedScopes = new Set(['crm.objects.contacts.read']);
    try {
      const res = await fetch(`${sandbox.url}/email/public/v1/events?limit=1`, {
        headers: { authorization: 'Bearer check' },
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({
        status: 'error',
        message:
          "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
        correlationId: '00000000-0000-4000-8000-000000000000',
        errors: [
          {
            message: 'One or more of the following scopes are required.',
            context: { requiredGranularScopes: ['content'] },
          },
        ],
        links: { scopes: 'https://developers.hubspot.com/scopes' },
        category: 'MISSING_SCOPES',
      });
    } finally {
      sandbox.hubspot.grantedScopes = undefined;
    }
  });
});
