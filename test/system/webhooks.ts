/**
 * Deliveries as their senders make them, for tests, the demo and the benchmark: HubSpot v3-signed
 * webhooks, generic events signed with our HMAC, and Salesforce Outbound Messages (unsigned: the
 * org id inside is what the endpoint checks).
 */
import { signV3 } from '../../connectors/hubspot/signature.js';
import { signGeneric } from '../../src/receive/generic.js';

export { sendOutboundMessage } from '../sandbox/salesforce.js';

export interface PostOptions {
  /** Give up after this long (the status is then 0); no limit unless given. */
  timeoutMs?: number;
}

/** Sends one request and drains its answer: the HTTP status, or 0 when no answer came. */
async function send(url: string, body: string, headers: Record<string, string>, opts: PostOptions) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal: opts.timeoutMs === undefined ? null : AbortSignal.timeout(opts.timeoutMs),
  }).then(
    async (res) => {
      await res.arrayBuffer();
      return res.status;
    },
    () => 0,
  );
}

/** One HubSpot delivery (a JSON array of events, or its text) with its v3 signature, sent once. */
export function postHubSpot(url: string, events: object[] | string, secret: string, opts: PostOptions = {}) {
  const body = typeof events === 'string' ? events : JSON.stringify(events);
  return send(url, body, signV3('POST', url, body, secret, Date.now()), opts);
}

/** One generic-events delivery (`{events, profile}`) with its HMAC-SHA256 headers, sent once. */
export function postEvents(url: string, payload: object, secret: string, opts: PostOptions = {}) {
  const body = JSON.stringify(payload);
  return send(url, body, signGeneric(body, secret, Date.now()), opts);
}

/**
 * Delivers like HubSpot: a request that is not answered 2xx is sent again later (HubSpot retries
 * for 24 h), so a 503 while Redis is away loses nothing. Returns how many attempts were refused.
 */
export async function deliverHubSpot(
  url: string,
  events: object[],
  secret: string,
  timeoutMs = 30_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let refused = 0;
  for (;;) {
    const status = await postHubSpot(url, events, secret, { timeoutMs: 5_000 });
    if (status === 200) return refused;
    refused++;
    if (Date.now() > deadline) throw new Error(`delivery never accepted (last status ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let eventSeq = 1;

/** When a HubSpot event happened and its id; ids count up unless given (HubSpot dedupes on them). */
export interface EventAt {
  eventId?: number;
  occurredAt?: number;
}

/** A HubSpot webhook event of any subscription type, e.g. `contact.creation`. */
export function hubspotEvent(objectId: string | number, subscriptionType: string, at: EventAt = {}) {
  return {
    eventId: at.eventId ?? eventSeq++,
    portalId: 33,
    objectId: Number(objectId),
    occurredAt: at.occurredAt ?? Date.now(),
    subscriptionType,
  };
}

/** A HubSpot `contact.propertyChange` event. */
export function propertyChange(
  objectId: string | number,
  propertyName: string,
  propertyValue: string,
  at: EventAt = {},
) {
  return { ...hubspotEvent(objectId, 'contact.propertyChange', at), propertyName, propertyValue };
}

/** A demo request as HubSpot reports it: the contact's recent conversion changes. */
export const demoRequest = (objectId: string | number) =>
  propertyChange(objectId, 'recent_conversion_event_name', 'Request a demo');
