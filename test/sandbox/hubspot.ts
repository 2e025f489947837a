import express, { type Request, type Response } from 'express';
import { z } from 'zod';

/**
 * The subset of HubSpot's CRM v3/v4 REST API that leadflow uses, in memory, with HubSpot's
 * response and error shapes so the real @hubspot/api-client parses them as it would HubSpot's.
 */

export type Properties = Record<string, string>;

export interface PropertyDefinition {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  options: { label: string; value: string; displayOrder: number }[];
  /** As the properties API lists it: `readOnlyValue` properties are calculated by HubSpot, never written. */
  modificationMetadata: {
    archivable: boolean;
    readOnlyDefinition: boolean;
    readOnlyValue: boolean;
  };
}

export interface StoredObject {
  id: string;
  properties: Properties;
  associations: { to: { id: string }; types: { associationCategory: string; associationTypeId: number }[] }[];
  createdAt: string;
}

/** Default internal values, in HubSpot's order; the stage only moves forward. */
export const LIFECYCLE_STAGES = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
  'other',
];

/** HubSpot's default `hs_lead_status` options plus BAD_TIMING, as portals add. */
export const LEAD_STATUSES = [
  'NEW',
  'OPEN',
  'IN_PROGRESS',
  'OPEN_DEAL',
  'UNQUALIFIED',
  'ATTEMPTED_TO_CONTACT',
  'CONNECTED',
  'BAD_TIMING',
];

/**
 * Options of the default contact property `numemployees` ("Number of Employees"): a dropdown
 * (`enumeration`/`select`, as HubSpot's property listings show), not a number. These values are the
 * usual defaults, *unconfirmed* (portals edit them too): a real portal's come from the properties API.
 */
export const EMPLOYEE_RANGES = [
  '1-5',
  '5-25',
  '25-50',
  '50-100',
  '100-500',
  '500-1000',
  '1000-5000',
  '5000-10000',
  '10000+',
];

/**
 * Options of the default `hs_analytics_source` and `hs_latest_source` (original / latest traffic
 * source), internal value → label. The labels are the usual English defaults, *unconfirmed*: a real
 * portal's come from the properties API, which is where leadflow reads them.
 */
export const TRAFFIC_SOURCES: [string, string][] = [
  ['ORGANIC_SEARCH', 'Organic Search'],
  ['PAID_SEARCH', 'Paid Search'],
  ['EMAIL_MARKETING', 'Email Marketing'],
  ['SOCIAL_MEDIA', 'Organic Social'],
  ['REFERRALS', 'Referrals'],
  ['OTHER_CAMPAIGNS', 'Other Campaigns'],
  ['DIRECT_TRAFFIC', 'Direct Traffic'],
  ['OFFLINE', 'Offline Sources'],
  ['PAID_SOCIAL', 'Paid Social'],
];

const STANDARD_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'jobtitle',
  'company',
  'industry',
  'country',
  'state',
  'city',
  'phone',
  'hs_timezone',
  'hs_analytics_source_data_1',
  'hs_latest_source_data_1',
  'hubspot_owner_id',
  'hs_analytics_last_url',
  'recent_conversion_event_name',
  'hs_email_last_open_date',
  'hs_email_last_click_date',
  'hs_email_optout',
  'hs_marketable_status',
  'notes_last_contacted',
  'hs_last_sales_activity_timestamp',
];

/**
 * Default properties HubSpot calculates (`modificationMetadata.readOnlyValue: true`): marketing contact
 * status (knowledge base: the API cannot modify it), and the analytics, email and sales-activity
 * properties HubSpot sets from what happened. A write naming one is refused.
 */
export const READ_ONLY_PROPERTIES = [
  'hs_marketable_status',
  'hs_analytics_last_url',
  'recent_conversion_event_name',
  'hs_email_last_open_date',
  'hs_email_last_click_date',
  'notes_last_contacted',
  'hs_last_sales_activity_timestamp',
];

/** One version of a property, as `propertiesWithHistory` lists them. */
export interface PropertyVersion {
  value: string;
  timestamp: string;
  sourceType: string;
}

export interface SandboxOwner {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  archived: boolean;
}

/** The reps and managers of config/default.yaml, so the demo and tests route to real owners. */
const DEFAULT_OWNERS: SandboxOwner[] = [
  ['101', 'Ana', 'Ruiz'],
  ['102', 'Ben', 'Okafor'],
  ['103', 'Chloé', 'Martin'],
  ['104', 'Dieter', 'Braun'],
  ['900', 'Morgan', 'Lee'],
  ['901', 'Sasha', 'Novak'],
].map(([id, firstName, lastName]) => ({
  id: id!,
  firstName: firstName!,
  lastName: lastName!,
  email: `${firstName!.toLowerCase()}@sales.example`,
  archived: false,
}));

export class HubSpotState {
  contacts = new Map<string, Properties>();
  properties = new Map<string, PropertyDefinition>();
  notes: StoredObject[] = [];
  tasks: StoredObject[] = [];
  /** Every note and task ever created, one at a time or in a batch: a test sees duplicates deleted since. */
  created = { notes: 0, tasks: 0 };
  owners: SandboxOwner[] = [];
  /**
   * Marketing email events, as GET /email/public/v1/events returns them. Every event has `id` and
   * `created`; all types but UNBOUNCE carry `type` and `recipient` (v1 email events docs).
   */
  emailEvents: {
    id: string;
    type?: string;
    recipient?: string;
    created: number;
    emailCampaignId?: number;
    url?: string;
    /** STATUSCHANGE: the portal-wide status after the change, SUBSCRIBED or UNSUBSCRIBED. */
    portalSubscriptionStatus?: 'SUBSCRIBED' | 'UNSUBSCRIBED';
    /** STATUSCHANGE: the subscription types that changed. */
    subscriptions?: { id: number; status: 'SUBSCRIBED' | 'UNSUBSCRIBED' }[];
    /** STATUSCHANGE: e.g. SOURCE_RECIPIENT, SOURCE_LIST_UNSUBSCRIBE, SOURCE_IMPORT. */
    source?: string;
    requestedBy?: string;
  }[] = [];
  /** Form GUID → its submissions. */
  formSubmissions = new Map<
    string,
    { submittedAt: number; pageUrl?: string; values: { name: string; value: string }[] }[]
  >();
  searches = 0;
  /**
   * Search is eventually consistent: a contact written now shows in search results only this much later
   * (ms). Applies to writes made while it is set; `catchUpSearch()` lets everything written show.
   */
  searchLagMs = 0;
  /** Contact id → when its last write becomes visible to search. */
  private readonly searchVisibleAt = new Map<string, number>();
  /** `externalAccountId/externalEventId` → participations. */
  participations = new Map<string, { id: string; contactId: string; state: string; occurredAt: number }[]>();
  /** OAuth app: when set, POST /oauth/v1/token refreshes tokens with these credentials. */
  oauth: { clientId: string; clientSecret: string; refreshToken: string; expiresIn: number } | undefined;
  /** Access tokens the sandbox answers 401 for (expired or revoked early). */
  revokedTokens = new Set<string>();
  refreshes = 0;
  /** Contact id → property → versions, newest first (values seeded directly get one on first change). */
  history = new Map<string, Map<string, PropertyVersion[]>>();
  /** The scopes the token was granted; undefined grants every scope, so tests opt in to refusals. */
  grantedScopes: Set<string> | undefined;
  /** Email addresses (lower case) → when they were unsubscribed from all email (v4 unsubscribe-all). */
  unsubscribedAll = new Map<string, string>();
  /** GET /account-info/v3/details: the portal's time zone, at whose midnight the daily limit resets. */
  timeZone = 'US/Eastern';
  /** The private apps' daily call count and limit, as GET /account-info/v3/api-usage/daily/private-apps reports. */
  dailyUsage = { used: 0, limit: 500_000 };
  private nextId = 1;

  constructor() {
    this.reset();
  }

  reset(): void {
    this.contacts.clear();
    this.properties.clear();
    this.notes = [];
    this.tasks = [];
    this.created = { notes: 0, tasks: 0 };
    this.history.clear();
    this.owners = DEFAULT_OWNERS.map((o) => ({ ...o }));
    this.oauth = undefined;
    this.revokedTokens.clear();
    this.grantedScopes = undefined;
    this.unsubscribedAll.clear();
    this.timeZone = 'US/Eastern';
    this.dailyUsage = { used: 0, limit: 500_000 };
    this.emailEvents = [];
    this.formSubmissions.clear();
    this.participations.clear();
    this.searches = 0;
    this.searchLagMs = 0;
    this.searchVisibleAt.clear();
    for (const name of STANDARD_PROPERTIES) this.properties.set(name, definition(name, 'string', 'text'));
    this.properties.set('hs_lead_status', {
      ...definition('hs_lead_status', 'enumeration', 'radio'),
      options: LEAD_STATUSES.map((value, displayOrder) => ({ label: value, value, displayOrder })),
    });
    this.properties.set('lifecyclestage', {
      ...definition('lifecyclestage', 'enumeration', 'radio'),
      options: LIFECYCLE_STAGES.map((value, displayOrder) => ({ label: value, value, displayOrder })),
    });
    for (const name of ['hs_analytics_source', 'hs_latest_source'])
      this.properties.set(name, {
        ...definition(name, 'enumeration', 'select'),
        options: TRAFFIC_SOURCES.map(([value, label], displayOrder) => ({ label, value, displayOrder })),
      });
    this.properties.set('numemployees', {
      ...definition('numemployees', 'enumeration', 'select'),
      options: EMPLOYEE_RANGES.map((value, displayOrder) => ({ label: value, value, displayOrder })),
    });
  }

  /**
   * Writes a contact's properties as an API integration would, recording a version for each value
   * that changed (a value seeded directly gets its own version first, so history always has it).
   */
  writeContact(id: string, values: Properties, at = new Date().toISOString()): void {
    const contact = this.contacts.get(id) ?? {};
    const versions = this.history.get(id) ?? new Map<string, PropertyVersion[]>();
    for (const [name, value] of Object.entries(values)) {
      if (contact[name] === value) continue;
      const list = versions.get(name) ?? [];
      if (list.length === 0 && contact[name] !== undefined)
        list.unshift({
          value: contact[name],
          timestamp: contact.lastmodifieddate ?? contact.createdate ?? at,
          sourceType: 'CRM_UI',
        });
      list.unshift({ value, timestamp: at, sourceType: 'INTEGRATION' });
      versions.set(name, list);
    }
    this.history.set(id, versions);
    this.contacts.set(id, Object.assign(contact, values, { lastmodifieddate: at }));
    this.contactWritten(id);
  }

  newId(): string {
    return String(this.nextId++);
  }

  /** Called on every contact write: the search index sees it after `searchLagMs`. */
  contactWritten(id: string): void {
    this.searchVisibleAt.set(id, Date.now() + this.searchLagMs);
  }

  searchable(id: string): boolean {
    return (this.searchVisibleAt.get(id) ?? 0) <= Date.now();
  }

  catchUpSearch(): void {
    this.searchVisibleAt.clear();
  }
}

function definition(name: string, type: string, fieldType: string): PropertyDefinition {
  const readOnlyValue = READ_ONLY_PROPERTIES.includes(name);
  // HubSpot's default properties cannot be archived or redefined; custom ones can.
  return property(name, type, fieldType, { archivable: false, readOnlyDefinition: true, readOnlyValue });
}

function property(
  name: string,
  type: string,
  fieldType: string,
  modificationMetadata: PropertyDefinition['modificationMetadata'],
): PropertyDefinition {
  return {
    name,
    label: name,
    type,
    fieldType,
    groupName: 'contactinformation',
    options: [],
    modificationMetadata,
  };
}

class HubSpotError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly context?: Record<string, string[]>,
  ) {
    super(message);
  }
}

const PropertyValues = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
const Association = z.object({
  to: z.object({ id: z.string() }),
  types: z.array(z.object({ associationCategory: z.string(), associationTypeId: z.number() })),
});
const CreateBody = z.object({
  properties: PropertyValues,
  associations: z.array(Association).default([]),
  objectWriteTraceId: z.string().optional(),
});
const BatchCreateBody = z.object({ inputs: z.array(CreateBody) });
const BatchUpdateBody = z.object({
  inputs: z.array(z.object({ id: z.string(), properties: PropertyValues })),
});
const BatchReadBody = z.object({
  inputs: z.array(z.object({ id: z.string() })),
  properties: z.array(z.string()).default([]),
  idProperty: z.string().optional(),
});
const SearchBody = z.object({
  filterGroups: z.array(
    z.object({
      filters: z.array(z.object({ propertyName: z.string(), operator: z.string(), value: z.string() })),
    }),
  ),
  sorts: z
    .array(z.object({ propertyName: z.string(), direction: z.enum(['ASCENDING', 'DESCENDING']) }))
    .default([]),
  properties: z.array(z.string()).default([]),
  limit: z.number().int().min(1).max(200).default(10),
  after: z.string().default('0'),
});
/** HubSpot's search returns at most this many results per query, whatever the paging. */
const SEARCH_CAP = 10_000;
const PropertyCreateBody = z.object({
  name: z.string().min(1),
  label: z.string().min(1),
  type: z.string().min(1),
  fieldType: z.string().min(1),
  groupName: z.string().min(1),
});

/** HubSpot's batch endpoints (read, create, update, upsert of every object) take at most 100 inputs. */
const BATCH_MAX = 100;
/** v4 association batch reads: inputs per request (*unconfirmed*), associated ids per contact and page. */
const ASSOCIATIONS_BATCH_MAX = 1_000;
const ASSOCIATIONS_PAGE = 500;

/** Parses a batch body and refuses it whole when it holds more inputs than HubSpot takes. */
function parseBatch<T extends z.ZodType<{ inputs: unknown[] }>>(schema: T, body: unknown): z.infer<T> {
  const parsed = parse(schema, body);
  if (parsed.inputs.length > BATCH_MAX)
    throw new HubSpotError(
      400,
      'VALIDATION_ERROR',
      `Batch input size of ${parsed.inputs.length} exceeds the limit of ${BATCH_MAX}`,
    );
  return parsed;
}

/** HubSpot does not guarantee a batch answer's order: the sandbox answers in reverse, so nothing relies on it. */
function unordered<T>(results: T[]): T[] {
  return [...results].reverse();
}

/** HubSpot's error entry for the ids of a batch read it could not find (answered 207 beside the others). */
function notFound(objectType: string, ids: string[]) {
  return {
    status: 'error',
    category: 'OBJECT_NOT_FOUND',
    message: `Could not get some ${objectType} objects, they may be deleted or not exist. Check that ids are valid.`,
    context: { ids },
  };
}

/** A batch answer: 200 (201 for creates) with every record, 207 with `errors` when some failed. */
function answerBatch(res: Response, results: unknown[], errors: unknown[], okStatus = 200): void {
  const at = now();
  res.status(errors.length ? 207 : okStatus).json({
    status: 'COMPLETE',
    results: unordered(results),
    ...(errors.length ? { numErrors: errors.length, errors } : {}),
    startedAt: at,
    completedAt: at,
  });
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success)
    throw new HubSpotError(400, 'VALIDATION_ERROR', `Invalid input JSON: ${result.error.message}`);
  return result.data;
}

const now = () => new Date().toISOString();

/** A record as HubSpot's CRM objects API answers it (SimplePublicObject): the wanted properties, and its own `createdAt` where the sandbox keeps one. */
function view(id: string, properties: Properties, wanted: string[] | undefined, createdAt = now()) {
  const picked: Properties = { hs_object_id: id };
  for (const name of wanted ?? ['email', 'firstname', 'lastname']) {
    if (properties[name] !== undefined) picked[name] = properties[name];
  }
  return { id, properties: picked, createdAt, updatedAt: now(), archived: false };
}

/** HubSpot takes `properties=a,b` as well as repeated `properties=a&properties=b`. */
function wantedProperties(req: Request): string[] | undefined {
  return listParam(req.query.properties);
}

function listParam(raw: unknown): string[] | undefined {
  return raw === undefined
    ? undefined
    : [raw].flat().flatMap((p) => (typeof p === 'string' ? p.split(',') : []));
}

function stringify(values: z.infer<typeof PropertyValues>): Properties {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/**
 * HubSpot validates every property of a write before applying any, and returns what it will apply:
 * a backward `lifecyclestage` is not refused but left out (answered 2xx, stage unchanged, the other
 * properties of the same write applied — reference/hubspot.md, community reports).
 */
function validateContactWrite(state: HubSpotState, id: string, values: Properties): Properties {
  for (const name of Object.keys(values)) {
    if (!state.properties.has(name))
      throw new HubSpotError(400, 'VALIDATION_ERROR', `Property "${name}" does not exist`, {
        propertyName: [name],
      });
  }
  refuseReadOnly(state, values);
  refuseInvalidOptions(state, values);
  const { lifecyclestage: next, ...others } = values;
  if (next && !LIFECYCLE_STAGES.includes(next))
    throw new HubSpotError(400, 'VALIDATION_ERROR', `${next} is not a valid lifecyclestage option`);
  const current = state.contacts.get(id)?.lifecyclestage;
  if (next && current && LIFECYCLE_STAGES.indexOf(next) < LIFECYCLE_STAGES.indexOf(current)) return others;
  return values;
}

/** HubSpot refuses an enumeration value that is not one of the property's options (INVALID_OPTION), on create and update. */
function refuseInvalidOptions(state: HubSpotState, values: Properties): void {
  const size = values.numemployees;
  if (!size) return; // an empty value clears the property
  const options = state.properties.get('numemployees')?.options.map((o) => o.value) ?? [];
  if (!options.includes(size)) throw invalidOption('numemployees', size, options);
}

/** A property a portal's admin or app created: its value is writable. */
export function customProperty(name: string, type: string, fieldType: string): PropertyDefinition {
  return property(name, type, fieldType, {
    archivable: true,
    readOnlyDefinition: false,
    readOnlyValue: false,
  });
}

/** HubSpot refuses a write (create or update) naming a read-only property, whatever the value (READ_ONLY_VALUE). */
function refuseReadOnly(state: HubSpotState, values: Properties): void {
  const refused = Object.keys(values).filter(
    (name) => state.properties.get(name)?.modificationMetadata.readOnlyValue,
  );
  if (refused.length)
    throw invalidValues(
      refused.map((name) => ({
        message: `"${name}" is a read only property; its value cannot be set.`,
        error: 'READ_ONLY_VALUE',
        name,
      })),
    );
}

/** HubSpot's 400 for a value outside an enumeration's options. */
function invalidOption(name: string, value: string, options: string[]): HubSpotError {
  return invalidValues([
    {
      message: `${value} was not one of the allowed options: [${options.join(', ')}]`,
      error: 'INVALID_OPTION',
      name,
    },
  ]);
}

/** HubSpot's 400 VALIDATION_ERROR for property values: the per-property results as JSON in `message`. */
function invalidValues(results: { message: string; error: string; name: string }[]): HubSpotError {
  const listed = results.map((r) => ({ isValid: false, ...r }));
  return new HubSpotError(
    400,
    'VALIDATION_ERROR',
    `Property values were not valid: ${JSON.stringify(listed)}`,
  );
}

/**
 * The scope each endpoint needs (HubSpot's scope docs and each endpoint's "Scope requirements"); an
 * endpoint not listed needs none beyond a valid token.
 */
const REQUIRED_SCOPES: [method: string, path: RegExp, scope: string | string[]][] = [
  ['GET', /^\/crm\/v3\/objects\/contacts(\/|$)/, 'crm.objects.contacts.read'],
  ['POST', /^\/crm\/v3\/objects\/contacts\/(search|batch\/read)$/, 'crm.objects.contacts.read'],
  ['POST', /^\/crm\/v3\/objects\/contacts(\/batch\/update)?$/, 'crm.objects.contacts.write'],
  ['PATCH', /^\/crm\/v3\/objects\/contacts\//, 'crm.objects.contacts.write'],
  ['GET', /^\/crm\/v3\/properties\/contacts/, 'crm.schemas.contacts.read'],
  ['POST', /^\/crm\/v3\/properties\/contacts/, 'crm.schemas.contacts.write'],
  ['GET', /^\/crm\/v3\/owners/, 'crm.objects.owners.read'],
  // Marketing email events (v1) need `content`.
  ['GET', /^\/email\/public\/v1\/events/, 'content'],
  // Form submissions need `forms`.
  ['GET', /^\/form-integrations\/v1\/submissions\//, 'forms'],
  // Marketing event participations need `crm.objects.marketing_events.read`.
  ['GET', /^\/marketing\/v3\/marketing-events\//, 'crm.objects.marketing_events.read'],
  // v4 unsubscribe-all: reading takes `.read` or `.read_write`, writing `.write` or `.read_write`.
  [
    'GET',
    /^\/communication-preferences\/v4\/statuses\//,
    ['communication_preferences.read', 'communication_preferences.read_write'],
  ],
  [
    'POST',
    /^\/communication-preferences\/v4\/statuses\//,
    ['communication_preferences.write', 'communication_preferences.read_write'],
  ],
];

/**
 * The next midnight in a time zone, found by walking the clock forward (independently of the
 * connector's arithmetic, which the tests check against this).
 */
function nextMidnightIn(timeZone: string, from: number): number {
  const day = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  const today = day.format(from);
  let at = Math.floor(from / 60_000) * 60_000;
  while (day.format(at + 3_600_000) === today) at += 3_600_000;
  while (day.format(at) === today) at += 60_000;
  return at;
}

export function hubspotRouter(state: HubSpotState): express.Router {
  const r = express.Router();
  r.use(express.json({ limit: '5mb' }));

  // A token without the endpoint's scope: 403 MISSING_SCOPES, in HubSpot's shape.
  r.use((req, res, next) => {
    const scope = REQUIRED_SCOPES.find(([method, path]) => req.method === method && path.test(req.path))?.[2];
    // Any one of an endpoint's listed scopes will do.
    const needed = scope === undefined ? [] : [scope].flat();
    const granted = state.grantedScopes;
    if (!needed.length || !granted || needed.some((s) => granted.has(s))) {
      next();
      return;
    }
    res.status(403).json({
      status: 'error',
      message:
        "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
      correlationId: '00000000-0000-4000-8000-000000000000',
      errors: [
        {
          message: 'One or more of the following scopes are required.',
          context: { requiredGranularScopes: needed },
        },
      ],
      links: { scopes: 'https://developers.hubspot.com/scopes' },
      category: 'MISSING_SCOPES',
    });
  });

  r.get('/account-info/v3/details', (_req, res) => {
    res.json({
      portalId: 62515,
      accountType: 'STANDARD',
      timeZone: state.timeZone,
      companyCurrency: 'USD',
      additionalCurrencies: [],
      uiDomain: 'app.hubspot.com',
      dataHostingLocation: 'na1',
    });
  });

  // The daily limit resets at midnight in the account's time zone, not UTC.
  r.get('/account-info/v3/api-usage/daily/private-apps', (_req, res) => {
    res.json({
      results: [
        {
          name: 'private-apps-api-calls-daily',
          usageLimit: state.dailyUsage.limit,
          currentUsage: state.dailyUsage.used,
          collectedAt: now(),
          fetchStatus: 'SUCCESS',
          resetsAt: new Date(nextMidnightIn(state.timeZone, Date.now())).toISOString(),
        },
      ],
    });
  });

  r.post('/oauth/v1/token', express.urlencoded({ extended: false }), (req, res) => {
    const body = req.body as Record<string, string>;
    const app = state.oauth;
    if (
      !app ||
      body.grant_type !== 'refresh_token' ||
      body.client_id !== app.clientId ||
      body.client_secret !== app.clientSecret ||
      body.refresh_token !== app.refreshToken
    ) {
      res.status(400).json({ status: 'BAD_REFRESH_TOKEN', message: 'missing or unknown refresh token' });
      return;
    }
    state.refreshes++;
    // HubSpot may rotate the refresh token; the sandbox always does, to prove we keep the new one.
    app.refreshToken = `refresh-${state.refreshes}`;
    res.json({
      token_type: 'bearer',
      access_token: `access-${state.refreshes}`,
      refresh_token: app.refreshToken,
      expires_in: app.expiresIn,
    });
  });

  r.get('/crm/v3/objects/contacts', (req, res) => {
    const limit = Math.min(100, Number(req.query.limit ?? 10));
    const ids = [...state.contacts.keys()].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
    const after = typeof req.query.after === 'string' ? req.query.after : undefined;
    const start = after ? ids.findIndex((id) => id === after) + 1 : 0;
    const slice = ids.slice(start, start + limit);
    const wanted = wantedProperties(req);
    const last = slice.at(-1);
    res.json({
      results: slice.map((id) => view(id, state.contacts.get(id)!, wanted)),
      ...(last !== undefined && start + limit < ids.length ? { paging: { next: { after: last } } } : {}),
    });
  });

  r.post('/crm/v3/objects/contacts', (req, res) => {
    const { properties } = parse(z.object({ properties: PropertyValues }), req.body);
    const values = stringify(properties);
    refuseReadOnly(state, values);
    refuseInvalidOptions(state, values);
    const email = values.email?.toLowerCase();
    if (email && [...state.contacts.values()].some((c) => c.email?.toLowerCase() === email))
      throw new HubSpotError(409, 'CONFLICT', `Contact already exists. Existing ID: ${email}`);
    const id = state.newId();
    state.contacts.set(id, { ...values, lastmodifieddate: now(), createdate: now() });
    state.contactWritten(id);
    res.status(201).json(view(id, state.contacts.get(id)!, Object.keys(values)));
  });

  r.get('/crm/v3/objects/contacts/:id', (req, res) => {
    const contact = state.contacts.get(req.params.id);
    if (!contact) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    const wanted = wantedProperties(req);
    const withHistory = listParam(req.query.propertiesWithHistory);
    const versions = state.history.get(req.params.id);
    res.json({
      ...view(req.params.id, contact, wanted),
      // Every version of each property asked for, newest first; a never-changed value is its one version.
      ...(withHistory
        ? {
            propertiesWithHistory: Object.fromEntries(
              withHistory.map((name) => [
                name,
                versions?.get(name) ??
                  (contact[name] !== undefined
                    ? [{ value: contact[name], timestamp: contact.createdate ?? now(), sourceType: 'CRM_UI' }]
                    : []),
              ]),
            ),
          }
        : {}),
    });
  });

  r.patch('/crm/v3/objects/contacts/:id', (req, res) => {
    const { properties } = parse(z.object({ properties: PropertyValues }), req.body);
    const contact = state.contacts.get(req.params.id);
    if (!contact) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    const values = stringify(properties);
    state.writeContact(req.params.id, validateContactWrite(state, req.params.id, values));
    // HubSpot answers with the properties as they are after the update (a refused stage unchanged).
    res.json(view(req.params.id, contact, Object.keys(values)));
  });

  r.post('/crm/v3/objects/contacts/batch/read', (req, res) => {
    const body = parseBatch(BatchReadBody, req.body);
    const byEmail = body.idProperty === 'email';
    const find = (key: string): [string, Properties] | undefined =>
      byEmail
        ? [...state.contacts].find(([, c]) => c.email?.toLowerCase() === key.toLowerCase())
        : state.contacts.has(key)
          ? [key, state.contacts.get(key)!]
          : undefined;
    const results = [];
    const missing: string[] = [];
    for (const { id } of body.inputs) {
      const found = find(id);
      if (found) results.push(view(found[0], found[1], body.properties));
      else missing.push(id);
    }
    // Ids HubSpot cannot find do not fail the read: 207, the others' records and an error naming them.
    answerBatch(res, results, missing.length ? [notFound('CONTACT', missing)] : []);
  });

  r.post('/crm/v3/objects/contacts/batch/update', (req, res) => {
    const { inputs } = parseBatch(BatchUpdateBody, req.body);
    // An id twice in one batch update is refused whole (VALIDATION_ERROR "Duplicate IDs found in batch input").
    const ids = inputs.map((i) => i.id);
    const twice = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
    if (twice.length)
      throw new HubSpotError(
        400,
        'VALIDATION_ERROR',
        `Duplicate IDs found in batch input: [${twice.join(', ')}]. IDs must be unique`,
      );
    // HubSpot's reference lists a 207 with per-record errors for batch/update, but a deleted or
    // merged-away id gets the whole batch refused in practice (issue #13; the message and context are
    // those of HubSpot's OBJECT_NOT_FOUND batch errors): nothing of it is applied.
    const missing = inputs.filter((i) => !state.contacts.has(i.id)).map((i) => i.id);
    if (missing.length)
      throw new HubSpotError(
        404,
        'OBJECT_NOT_FOUND',
        'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
        { ids: missing },
      );
    const applied = inputs.map((input) => validateContactWrite(state, input.id, stringify(input.properties)));
    const results = inputs.map((input, i) => {
      state.writeContact(input.id, applied[i]!);
      // As for a PATCH: the properties as they are after the update (a refused stage unchanged).
      return view(input.id, state.contacts.get(input.id)!, Object.keys(input.properties));
    });
    answerBatch(res, results, []);
  });

  // Only what the contacts poller sends: one GTE filter on lastmodifieddate, sorted ascending.
  r.post('/crm/v3/objects/contacts/search', (req, res) => {
    const body = parse(SearchBody, req.body);
    const filter = body.filterGroups[0]?.filters[0];
    const since =
      filter?.operator === 'GTE' && filter.propertyName === 'lastmodifieddate' ? Number(filter.value) : 0;
    const matching = [...state.contacts]
      .filter(([id, c]) => state.searchable(id) && Date.parse(c.lastmodifieddate ?? '') >= since)
      .sort(
        ([a, x], [b, y]) =>
          Date.parse(x.lastmodifieddate!) - Date.parse(y.lastmodifieddate!) || Number(a) - Number(b),
      );
    const start = Number(body.after);
    if (start + body.limit > SEARCH_CAP)
      throw new HubSpotError(400, 'VALIDATION_ERROR', `paging is limited to ${SEARCH_CAP} results`);
    const slice = matching.slice(start, start + body.limit);
    state.searches++;
    res.json({
      total: matching.length,
      results: slice.map(([id, c]) => ({ ...view(id, c, body.properties), updatedAt: c.lastmodifieddate })),
      ...(start + body.limit < matching.length
        ? { paging: { next: { after: String(start + body.limit) } } }
        : {}),
    });
  });

  r.get('/email/public/v1/events', (req, res) => {
    const from = Number(req.query.startTimestamp ?? 0);
    const to = Number(req.query.endTimestamp ?? Date.now());
    const limit = Math.min(1000, Number(req.query.limit ?? 1000));
    const offset = Number(req.query.offset ?? 0);
    const events = state.emailEvents
      .filter((e) => e.created >= from && e.created < to)
      .sort((a, b) => b.created - a.created);
    const page = events.slice(offset, offset + limit);
    const more = offset + limit < events.length;
    res.json({ events: page, hasMore: more, ...(more ? { offset: String(offset + limit) } : {}) });
  });

  r.get('/marketing/v3/marketing-events/participations/:account/:event/breakdown', (req, res) => {
    const all = state.participations.get(`${req.params.account}/${req.params.event}`) ?? [];
    const limit = Math.min(100, Number(req.query.limit ?? 10));
    const start = typeof req.query.after === 'string' ? Number(req.query.after) : 0;
    res.json({
      total: all.length,
      results: all.slice(start, start + limit).map((p) => ({
        id: p.id,
        createdAt: new Date(p.occurredAt).toISOString(),
        associations: {
          contact: { contactId: p.contactId, email: state.contacts.get(p.contactId)?.email ?? '' },
          marketingEvent: {
            marketingEventId: '1',
            name: req.params.event,
            externalAccountId: req.params.account,
            externalEventId: req.params.event,
          },
        },
        properties: { attendanceState: p.state, occurredAt: p.occurredAt },
      })),
      ...(start + limit < all.length ? { paging: { next: { after: String(start + limit) } } } : {}),
    });
  });

  r.get('/form-integrations/v1/submissions/forms/:guid', (req, res) => {
    const all = state.formSubmissions.get(req.params.guid);
    if (!all) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', `form ${req.params.guid} not found`);
    const limit = Math.min(50, Number(req.query.limit ?? 20));
    const start = typeof req.query.after === 'string' ? Number(req.query.after) : 0;
    const newestFirst = [...all].sort((a, b) => b.submittedAt - a.submittedAt);
    res.json({
      results: newestFirst.slice(start, start + limit),
      ...(start + limit < all.length ? { paging: { next: { after: String(start + limit) } } } : {}),
    });
  });

  r.get('/crm/v3/properties/contacts', (_req, res) => {
    res.json({ results: [...state.properties.values()].map(propertyView) });
  });

  r.get('/crm/v3/properties/contacts/:name', (req, res) => {
    const def = state.properties.get(req.params.name);
    if (!def) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${req.params.name}`);
    res.json(propertyView(def));
  });

  r.post('/crm/v3/properties/contacts', (req, res) => {
    const body = parse(PropertyCreateBody, req.body);
    if (state.properties.has(body.name))
      throw new HubSpotError(409, 'OBJECT_ALREADY_EXISTS', `A property named '${body.name}' already exists.`);
    const def = { ...customProperty(body.name, body.type, body.fieldType), ...body };
    state.properties.set(body.name, def);
    res.status(201).json(propertyView(def));
  });

  /** A note or task from its input: every association must name a contact HubSpot has. */
  const engagement = (input: z.infer<typeof CreateBody>): StoredObject => {
    for (const a of input.associations) {
      if (!state.contacts.has(a.to.id))
        throw new HubSpotError(400, 'VALIDATION_ERROR', `contact ${a.to.id} not found`);
    }
    return {
      id: state.newId(),
      properties: stringify(input.properties),
      associations: input.associations,
      createdAt: now(),
    };
  };
  const objectView = (object: StoredObject, objectWriteTraceId?: string) => ({
    id: object.id,
    properties: object.properties,
    createdAt: object.createdAt,
    updatedAt: object.createdAt,
    archived: false,
    ...(objectWriteTraceId === undefined ? {} : { objectWriteTraceId }),
  });
  const createEngagement = (kind: 'notes' | 'tasks') => (req: Request, res: Response) => {
    const object = engagement(parse(CreateBody, req.body));
    state[kind].push(object);
    state.created[kind] += 1;
    res.status(201).json(objectView(object));
  };
  r.post('/crm/v3/objects/notes', createEngagement('notes'));
  r.post('/crm/v3/objects/tasks', createEngagement('tasks'));

  for (const [kind, list, typeId] of [
    ['notes', () => state.notes, 202],
    ['tasks', () => state.tasks, 204],
  ] as const) {
    r.get(`/crm/v4/objects/contacts/:id/associations/${kind}`, (req, res) => {
      const results = list()
        .filter((n) => n.associations.some((a) => a.to.id === req.params.id))
        .map((n) => ({
          toObjectId: Number(n.id),
          associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId, label: null }],
        }));
      res.json({ results });
    });

    // DELETE moves the object to HubSpot's recycle bin: 204 with no body, gone from every read.
    r.delete(`/crm/v3/objects/${kind}/:id`, (req, res) => {
      const at = list().findIndex((n) => n.id === req.params.id);
      if (at < 0) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', 'resource not found');
      list().splice(at, 1);
      res.status(204).end();
    });

    r.post(`/crm/v3/objects/${kind}/batch/read`, (req, res) => {
      const body = parseBatch(BatchReadBody, req.body);
      const results = [];
      const missing: string[] = [];
      for (const { id } of body.inputs) {
        const found = list().find((n) => n.id === id);
        if (found) results.push(view(id, found.properties, body.properties, found.createdAt));
        else missing.push(id);
      }
      answerBatch(res, results, missing.length ? [notFound(kind.slice(0, -1).toUpperCase(), missing)] : []);
    });

    /**
     * batch/create (≤ 100 inputs, associations inline). An input HubSpot refuses fails the whole
     * batch, unless every input carries an objectWriteTraceId: then the answer is 207, the others
     * created and each refusal named by its trace id ("multi-status errors", HubSpot's error
     * handling docs). Each created record carries its input's trace id.
     */
    r.post(`/crm/v3/objects/${kind}/batch/create`, (req, res) => {
      const { inputs } = parseBatch(BatchCreateBody, req.body);
      const traced = inputs.every((i) => i.objectWriteTraceId !== undefined);
      const made: { object: StoredObject; trace?: string }[] = [];
      const errors: unknown[] = [];
      for (const input of inputs) {
        try {
          made.push({ object: engagement(input), trace: input.objectWriteTraceId });
        } catch (err) {
          if (!(traced && err instanceof HubSpotError)) throw err;
          errors.push({
            status: 'error',
            category: err.category,
            message: err.message,
            context: { objectWriteTraceId: [input.objectWriteTraceId!] },
          });
        }
      }
      list().push(...made.map((m) => m.object));
      state.created[kind] += made.length;
      answerBatch(
        res,
        made.map((m) => objectView(m.object, m.trace)),
        errors,
        201,
      );
    });

    /**
     * v4 associations of many contacts (POST .../batch/read): per contact up to 500 associated ids
     * with a cursor for more. Inputs capped at 1,000 (*unconfirmed*); a contact with none is left out.
     */
    r.post(`/crm/v4/associations/contacts/${kind}/batch/read`, (req, res) => {
      const { inputs } = parse(z.object({ inputs: z.array(z.object({ id: z.string() })) }), req.body);
      if (inputs.length > ASSOCIATIONS_BATCH_MAX)
        throw new HubSpotError(
          400,
          'VALIDATION_ERROR',
          `Batch input size of ${inputs.length} exceeds the limit of ${ASSOCIATIONS_BATCH_MAX}`,
        );
      const results = inputs.flatMap(({ id }) => {
        const all = list().filter((n) => n.associations.some((a) => a.to.id === id));
        if (all.length === 0) return [];
        return [
          {
            from: { id },
            to: all.slice(0, ASSOCIATIONS_PAGE).map((n) => ({
              toObjectId: Number(n.id),
              associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId, label: null }],
            })),
            ...(all.length > ASSOCIATIONS_PAGE
              ? { paging: { next: { after: String(ASSOCIATIONS_PAGE) } } }
              : {}),
          },
        ];
      });
      answerBatch(res, results, []);
    });
  }

  r.get('/crm/v3/objects/notes', (req, res) => {
    const limit = Math.min(100, Number(req.query.limit ?? 10));
    res.json({
      results: state.notes.slice(0, limit).map((n) => view(n.id, n.properties, undefined, n.createdAt)),
    });
  });

  const task = (id: string) => {
    const found = state.tasks.find((t) => t.id === id);
    if (!found) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    return found;
  };
  r.get('/crm/v3/objects/tasks/:id', (req, res) => {
    const wanted = wantedProperties(req);
    const found = task(req.params.id);
    res.json(view(found.id, found.properties, wanted, found.createdAt));
  });
  r.patch('/crm/v3/objects/tasks/:id', (req, res) => {
    const { properties } = parse(z.object({ properties: PropertyValues }), req.body);
    const found = task(req.params.id);
    Object.assign(found.properties, stringify(properties));
    res.json(view(found.id, found.properties, Object.keys(properties), found.createdAt));
  });

  // v4 communication preferences: `channel=EMAIL` is required, the only channel there is.
  const emailChannel = (req: Request) => {
    if (req.query.channel !== 'EMAIL')
      throw new HubSpotError(400, 'VALIDATION_ERROR', 'channel must be one of [EMAIL]');
  };
  // A batch-shaped answer; `results` lists the changed statuses only with verbose=true.
  const batchAnswer = (results: unknown[]) => ({
    status: 'COMPLETE',
    results,
    requestedAt: now(),
    startedAt: now(),
    completedAt: now(),
  });
  r.post('/communication-preferences/v4/statuses/:subscriber/unsubscribe-all', (req, res) => {
    emailChannel(req);
    const email = req.params.subscriber.toLowerCase();
    const already = state.unsubscribedAll.has(email);
    if (!already) state.unsubscribedAll.set(email, now());
    // HubSpot keeps "Unsubscribed from all email" on the contact of that address.
    for (const [id, c] of state.contacts)
      if (c.email?.toLowerCase() === email) state.writeContact(id, { hs_email_optout: 'true' });
    const result = {
      channel: 'EMAIL',
      subscriberIdString: req.params.subscriber,
      status: 'NOT_SUBSCRIBED',
      source: 'Public API',
      timestamp: state.unsubscribedAll.get(email),
      setStatusSuccessReason: already ? 'NO_STATUS_CHANGE' : 'UNSUBSCRIBE_OCCURRED',
    };
    res.json(batchAnswer(req.query.verbose === 'true' ? [result] : []));
  });
  // Not opted out of all email: `results` is empty.
  r.get('/communication-preferences/v4/statuses/:subscriber/unsubscribe-all', (req, res) => {
    emailChannel(req);
    const at = state.unsubscribedAll.get(req.params.subscriber.toLowerCase());
    res.json(
      batchAnswer(
        at
          ? [
              {
                channel: 'EMAIL',
                subscriberIdString: req.params.subscriber,
                status: 'UNSUBSCRIBED',
                wideStatusType: 'PORTAL_WIDE',
                timestamp: at,
              },
            ]
          : [],
      ),
    );
  });

  r.get('/crm/v3/owners', (req, res) => {
    const archived = req.query.archived === 'true';
    const limit = Math.min(100, Number(req.query.limit ?? 100));
    const owners = state.owners.filter((o) => o.archived === archived);
    const start = typeof req.query.after === 'string' ? Number(req.query.after) : 0;
    const slice = owners.slice(start, start + limit);
    res.json({
      results: slice.map((o) => ({
        ...o,
        type: 'PERSON',
        userId: Number(o.id),
        createdAt: new Date(0).toISOString(),
        updatedAt: new Date(0).toISOString(),
      })),
      ...(start + limit < owners.length ? { paging: { next: { after: String(start + limit) } } } : {}),
    });
  });

  r.use((err: unknown, _req: Request, res: Response, next: (err: unknown) => void) => {
    if (err instanceof HubSpotError) {
      res.status(err.status).json({
        status: 'error',
        message: err.message,
        correlationId: '00000000-0000-4000-8000-000000000000',
        category: err.category,
        ...(err.context ? { context: err.context } : {}),
      });
      return;
    }
    next(err);
  });
  return r;
}

function propertyView(def: PropertyDefinition) {
  return {
    ...def,
    description: '',
    hidden: false,
    formField: true,
    hasUniqueValue: false,
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
  };
}
