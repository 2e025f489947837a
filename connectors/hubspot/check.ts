import type { Config, HubSpotPolling } from '../../src/config/schema.js';
import { parseCountRange, type Owner } from '../../src/domain/index.js';
import { checkLines, checkOwners, checkValues, type CheckLine } from '../check.js';
import { isCrmError } from '../errors.js';
import type { HubSpotConnector } from './connector.js';

/** What the portal says about one contact property. */
export interface PropertyFacts {
  type: string;
  options: string[];
  /** HubSpot calculates it (`modificationMetadata.readOnlyValue`): a write naming it is refused. */
  readOnly: boolean;
}

/** What a config check reads from the portal. */
export interface PortalFacts {
  /** Contact properties by name; null when the properties API could not be read. */
  properties: Map<string, PropertyFacts> | null;
  owners: Owner[] | null;
  /**
   * One read per scope the enabled config needs, with the HTTP status when it failed; `neededBy` is the
   * config path of the feature that needs it (absent for the base scopes every config needs).
   */
  probes: { scope: string; ok: boolean; neededBy?: string; status?: number; message?: string }[];
}

/**
 * Reads what `config check` compares with the config; each scope is probed with one read: the base
 * scopes always, a poller's only when `hubspot.polling` enables it.
 */
export async function readPortalFacts(
  connector: HubSpotConnector,
  polling: HubSpotPolling = {},
  unsubscribeNeededBy?: string,
): Promise<PortalFacts> {
  const probe = async <T>(scope: string, read: () => Promise<T>, neededBy?: string) => {
    try {
      return { scope, neededBy, ok: true as const, value: await read() };
    } catch (err) {
      const failure = isCrmError(err) ? err.failure : undefined;
      return {
        scope,
        neededBy,
        ok: false as const,
        status: failure?.status,
        message: failure?.message ?? String(err),
      };
    }
  };
  const now = Date.now();
  // The contacts poller searches with crm.objects.contacts.read, probed below for every config.
  const { emailEvents, forms, marketingEvents } = polling;
  const featureProbes = [
    emailEvents &&
      probe('content', () => connector.emailEvents(now - 1, now, undefined), 'hubspot.polling.emailEvents'),
    forms &&
      probe(
        'forms',
        () => connector.formSubmissions(forms.forms[0]!.guid, undefined),
        'hubspot.polling.forms',
      ),
    marketingEvents &&
      probe(
        'crm.objects.marketing_events.read',
        () => {
          const [event] = marketingEvents.events;
          return connector.eventParticipations(event!.externalAccountId, event!.externalEventId, undefined);
        },
        'hubspot.polling.marketingEvents',
      ),
    // The unmarket disposition's unsubscribe writes with `.write` or `.read_write`; only the
    // latter also lets this read prove it without unsubscribing anyone.
    unsubscribeNeededBy &&
      probe(
        'communication_preferences.read_write',
        () => connector.unsubscribeAllStatus(SCOPE_PROBE_EMAIL),
        unsubscribeNeededBy,
      ),
  ].filter((p) => !!p);
  const [contacts, properties, owners, notes] = await Promise.all([
    probe('crm.objects.contacts.read', () => connector.listLeads(undefined, 1)),
    probe('crm.schemas.contacts.read', () => connector.contactProperties()),
    probe('crm.objects.owners.read', () => connector.owners()),
    probe('crm.objects.contacts.read (notes)', () => connector.listNotes(1)),
  ]);
  return {
    properties: properties.ok
      ? new Map(
          properties.value.results.map((p) => [
            p.name,
            {
              type: p.type,
              options: p.options.map((o) => o.value),
              readOnly: p.modificationMetadata?.readOnlyValue ?? false,
            },
          ]),
        )
      : null,
    owners: owners.ok ? owners.value : null,
    probes: [contacts, properties, owners, notes, ...(await Promise.all(featureProbes))].map(
      ({ scope, neededBy, ok, ...rest }) => ({
        scope,
        ok,
        ...(neededBy ? { neededBy } : {}),
        ...('status' in rest ? { status: rest.status, message: rest.message } : {}),
      }),
    ),
  };
}

/** The address `config check` reads the unsubscribe status of: any address proves the scope. */
const SCOPE_PROBE_EMAIL = 'scope-probe@leadflow.example';

/** Our own properties: created on start when missing. */
function ownProperties(config: Config): string[] {
  const f = config.hubspot.fields;
  return [
    f.score,
    f.fitScore,
    f.engagementScore,
    f.scoreReasons,
    f.badData,
    f.profile.dispositionReason,
  ].filter((p): p is string => !!p);
}

const NUMERIC = new Set(['number']);

/**
 * Pure. The config path of the first disposition reason that unsubscribes a HubSpot contact from
 * all email, whose scope `config check --crm` then probes; undefined when none does.
 */
export function unsubscribeNeededBy(config: Config): string | undefined {
  if (!config.hubspot.fields.unmarket.unsubscribeAllEmail || config.crossCrm?.handoffTo === 'salesforce')
    return undefined;
  const reason = Object.entries(config.dispositions.reasons).find(([, r]) => r.action === 'unmarket');
  return reason ? `dispositions.reasons.${reason[0]}` : undefined;
}

/**
 * Pure. Compares the config with the portal: every mapped property exists with a usable type, the
 * lifecycle stage and lead status values we write exist (portals customize both), routed reps are
 * active owners, and the token can do what the worker does.
 */
export function checkPortal(config: Config, facts: PortalFacts): CheckLine[] {
  const { lines, add } = checkLines();

  for (const probe of facts.probes)
    add(
      probe.ok ? 'ok' : 'error',
      `scope ${probe.scope}`,
      probe.ok
        ? `granted${probe.neededBy ? ` (for ${probe.neededBy})` : ''}`
        : `HTTP ${probe.status ?? '?'}: ${probe.message ?? 'refused'} — add this scope to the app` +
            (probe.neededBy ? ` (${probe.neededBy} needs it)` : ''),
    );

  const props = facts.properties;
  if (props) {
    const f = config.hubspot.fields;
    const own = new Set(ownProperties(config));
    const mapped: [string, string][] = [
      ...Object.entries(f.profile).map(
        ([field, name]) => [`hubspot.fields.profile.${field}`, name] as [string, string],
      ),
      ['hubspot.fields.lifecycleStage', f.lifecycleStage],
      ...(f.unmarket.property
        ? [['hubspot.fields.unmarket.property.name', f.unmarket.property.name] as [string, string]]
        : []),
      ['hubspot.fields.score', f.score],
      ['hubspot.fields.fitScore', f.fitScore],
      ['hubspot.fields.engagementScore', f.engagementScore],
      ['hubspot.fields.scoreReasons', f.scoreReasons],
      ['hubspot.fields.badData', f.badData],
    ];
    // The properties leadflow writes: a read-only one would fail every such write.
    const written = new Set(
      [
        f.lifecycleStage,
        f.profile.ownerId,
        f.profile[config.dispositions.statusField],
        f.unmarket.property?.name,
        ...own,
      ].filter((p) => p !== undefined),
    );
    for (const [path, name] of mapped) {
      const found = props.get(name);
      if (found?.readOnly && written.has(name))
        add('error', path, `"${name}" is read-only in HubSpot (it calculates the value); leadflow writes it`);
      else if (!found)
        add(
          own.has(name) ? 'warn' : 'error',
          path,
          own.has(name)
            ? `"${name}" is missing; the worker creates it on start`
            : `"${name}" does not exist in the portal`,
        );
      else if ([f.score, f.fitScore, f.engagementScore].includes(name) && !NUMERIC.has(found.type))
        add('error', path, `"${name}" is a ${found.type} property; scores need a number property`);
      else add('ok', path, `"${name}" (${found.type})`);
    }
    const values = (property: string, wanted: [string, string][]) => {
      const option = `a ${property} option`;
      lines.push(...checkValues(wanted, props.get(property)?.options ?? [], { is: option, isNot: option }));
    };
    values(
      f.lifecycleStage,
      Object.entries(f.stages).map(([stage, value]) => [`hubspot.fields.stages.${stage}`, value]),
    );
    const statusProperty = f.profile[config.dispositions.statusField];
    if (statusProperty)
      values(statusProperty, [
        ...Object.entries(f.leadStatus).map(
          ([k, v]) => [`hubspot.fields.leadStatus.${k}`, v] as [string, string],
        ),
        ...config.dispositions.statuses.map((s, i) => [`dispositions.statuses[${i}]`, s] as [string, string]),
      ]);
    else
      add(
        'error',
        'dispositions.statusField',
        `"${config.dispositions.statusField}" is not mapped in hubspot.fields.profile`,
      );
    lines.push(...checkBandBounds(config, props));
  }

  if (facts.owners) lines.push(...checkOwners(config, facts.owners, 'portal'));
  return lines;
}

/**
 * A numeric fit rule on a dropdown of bands (`numemployees`: "50-100", "10000+") judges each band by
 * its midpoint, so a bound strictly inside a band cuts that band by its midpoint: worth a warning.
 */
function checkBandBounds(config: Config, props: Map<string, PropertyFacts>): CheckLine[] {
  return config.scoring.fit.flatMap((rule, i) => {
    const property = config.hubspot.fields.profile[rule.field];
    const bands = (property === undefined ? [] : (props.get(property)?.options ?? [])).flatMap((option) => {
      const band = parseCountRange(option);
      return band ? [{ option, ...band }] : [];
    });
    return [rule.match.min, rule.match.max].flatMap((bound) => {
      const cut = bound === undefined ? undefined : bands.find((b) => b.low < bound && bound < b.high);
      return cut
        ? [
            {
              level: 'warn' as const,
              what: `scoring.fit[${i}]`,
              message: `${rule.id}: ${bound} falls inside the ${property} option "${cut.option}", which counts as its midpoint`,
            },
          ]
        : [];
    });
  });
}
