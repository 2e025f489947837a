import { randomBytes, randomUUID } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';

/**
 * Salesforce's Streaming API (CometD: Bayeux over HTTP long-polling at `/cometd/<version>`), enough
 * for jsforce's faye client to subscribe to Change Data Capture channels unmodified: handshake with
 * the replay extension, subscribe with `ext.replay` (-1 new events, -2 all retained, N after N),
 * long-polled connects delivering `{channel, data: {schema, payload, event: {replayId}}}`, and
 * Salesforce's error messages for revoked tokens and replay ids it no longer has.
 */

const HOUR = 3_600_000;

export interface RetainedEvent {
  replayId: number;
  publishedAt: number;
  payload: Record<string, unknown>;
}

interface BayeuxClient {
  id: string;
  /** Channel → replay id of the last event delivered (or the position subscribed from). */
  cursors: Map<string, number>;
  /** The held /meta/connect, woken when something arrives for the client. */
  wake: (() => void) | null;
}

/** One subscribe request as received, so tests can see where a client asked to resume. */
export interface SubscribeRecord {
  clientId: string;
  channel: string;
  replay: number | undefined;
  successful: boolean;
}

export type ChangeType =
  | 'CREATE'
  | 'UPDATE'
  | 'DELETE'
  | 'UNDELETE'
  | 'GAP_CREATE'
  | 'GAP_UPDATE'
  | 'GAP_DELETE'
  | 'GAP_UNDELETE'
  | 'GAP_OVERFLOW';

export interface ChangeInput {
  entityName: string;
  changeType: ChangeType;
  recordIds: string[];
  /** Field values; CometD leaves out the null ones, and so does the event built here. */
  fields?: Record<string, unknown>;
  commitTimestamp?: number;
  transactionKey?: string;
  sequenceNumber?: number;
}

/** A change event payload as Salesforce sends it over CometD (header plus non-null fields). */
export function changeEventPayload(change: ChangeInput): Record<string, unknown> {
  const fields = Object.fromEntries(Object.entries(change.fields ?? {}).filter(([, v]) => v !== null));
  return {
    ChangeEventHeader: {
      entityName: change.entityName,
      recordIds: change.recordIds,
      changeType: change.changeType,
      changeOrigin: 'com/salesforce/api/rest/62.0',
      transactionKey: change.transactionKey ?? randomUUID(),
      sequenceNumber: change.sequenceNumber ?? 1,
      commitTimestamp: change.commitTimestamp ?? Date.now(),
      commitNumber: Date.now() * 1000,
      commitUser: '005000000000001AAA',
    },
    ...fields,
  };
}

export class StreamingState {
  /** How long events stay replayable (Salesforce keeps change events 72 hours). */
  retentionMs = 72 * HOUR;
  /** Longest a /meta/connect is held when there is nothing to deliver. */
  holdMs = 2_000;
  handshakes = 0;
  subscribes: SubscribeRecord[] = [];
  readonly clients = new Map<string, BayeuxClient>();
  private readonly streams = new Map<string, { last: number; events: RetainedEvent[] }>();

  private readonly revokedTokens = new Set<string>();
  /** The integration user has View All Data (which includes View All Records on every object). */
  viewAllData = true;
  /** Objects the user has View All Records on (what change events need without View All Data). */
  viewAllRecords = new Set<string>();

  /** `accepts(token)`: the org's own token check (e.g. the REST part's), on top of `revokeToken`. */
  constructor(private readonly accepts: (token: string) => boolean = () => true) {}

  /** From now on the token gets `401::Authentication invalid`, as after an admin revokes a session. */
  revokeToken(token: string): void {
    this.revokedTokens.add(token);
  }

  isAuthorized(token: string): boolean {
    return !this.revokedTokens.has(token) && this.accepts(token);
  }

  /** Publishes a change event; returns its replay id (increasing per channel). */
  publishChange(channel: string, payload: Record<string, unknown>): number {
    const stream = this.stream(channel);
    const event = { replayId: ++stream.last, publishedAt: Date.now(), payload };
    stream.events.push(event);
    for (const client of this.clients.values()) if (client.cursors.has(channel)) client.wake?.();
    return event.replayId;
  }

  /** Publishes a gap event: Salesforce could not produce the change events of these records. */
  publishGap(
    channel: string,
    gap: {
      entityName: string;
      changeType?: Extract<ChangeType, `GAP_${string}`>;
      recordIds?: string[];
      commitTimestamp?: number;
    },
  ): number {
    return this.publishChange(
      channel,
      changeEventPayload({
        entityName: gap.entityName,
        changeType: gap.changeType ?? 'GAP_UPDATE',
        recordIds: gap.recordIds ?? [],
        ...(gap.commitTimestamp === undefined ? {} : { commitTimestamp: gap.commitTimestamp }),
      }),
    );
  }

  /** Events still replayable on a channel, oldest first. */
  retained(channel: string): RetainedEvent[] {
    const stream = this.stream(channel);
    const oldest = Date.now() - this.retentionMs;
    stream.events = stream.events.filter((e) => e.publishedAt >= oldest);
    return stream.events;
  }

  /** Drops every client, as a server restart would (clients must handshake again). */
  dropClients(): void {
    for (const client of this.clients.values()) client.wake?.();
    this.clients.clear();
  }

  reset(): void {
    this.dropClients();
    this.streams.clear();
    this.subscribes = [];
    this.handshakes = 0;
    this.revokedTokens.clear();
    this.viewAllData = true;
    this.viewAllRecords = new Set();
    this.retentionMs = 72 * HOUR;
    this.holdMs = 2_000;
  }

  private stream(channel: string) {
    let stream = this.streams.get(channel);
    if (!stream) this.streams.set(channel, (stream = { last: 0, events: [] }));
    return stream;
  }

  /** Where a subscription starts, or null for a replay id the server does not have. */
  subscribeFrom(channel: string, replay: number): number | null {
    const events = this.retained(channel);
    const last = this.stream(channel).last;
    if (replay === -1) return last;
    if (replay === -2) return events.length ? events[0]!.replayId - 1 : last;
    return events.some((e) => e.replayId === replay) ? replay : null;
  }

  /** Whether the user may receive change events of this object (View All Records, or View All Data). */
  mayView(entity: string): boolean {
    return this.viewAllData || this.viewAllRecords.has(entity);
  }

  /** Events due to a client, advancing its cursors. */
  takeDeliveries(client: BayeuxClient): { channel: string; data: unknown }[] {
    const out: { channel: string; data: unknown }[] = [];
    for (const [channel, cursor] of client.cursors) {
      const due = this.retained(channel).filter((e) => e.replayId > cursor);
      // On /data/ChangeEvents, permissions are enforced on delivery: events of objects the user
      // may not view are silently left out (Salesforce CDC docs, "Permission Enforcement").
      const entity = (e: RetainedEvent) =>
        String((e.payload.ChangeEventHeader as { entityName?: unknown } | undefined)?.entityName);
      for (const e of due.filter((d) => channel !== ALL_CHANGES || this.mayView(entity(d))))
        out.push({
          channel,
          data: { schema: 'sandbox-change-event', payload: e.payload, event: { replayId: e.replayId } },
        });
      if (due.length) client.cursors.set(channel, due[due.length - 1]!.replayId);
    }
    return out;
  }
}

const Message = z.looseObject({
  channel: z.string().min(1),
  id: z.string().optional(),
  clientId: z.string().optional(),
  subscription: z.union([z.string(), z.array(z.string())]).optional(),
  ext: z.looseObject({ replay: z.record(z.string(), z.number().int()).optional() }).optional(),
});
type Message = z.infer<typeof Message>;
const Messages = z.union([z.array(Message).min(1), Message.transform((m) => [m])]);

const CHANNEL = /^\/(data|event)\/[A-Za-z0-9_]+$/;
const ALL_CHANGES = '/data/ChangeEvents';
/** `/data/LeadChangeEvent` → Lead, `/data/Thing__ChangeEvent` → Thing__c. */
const OBJECT_CHANNEL = /^\/data\/([A-Za-z0-9_]+?)(__)?ChangeEvent$/;
/**
 * A refused subscribe. Salesforce documents that a user without the permission "can't subscribe to
 * the channel, and an error is returned", not its text: this is CometD's own subscribe denial (the
 * server Salesforce streams with). Clients must key on `successful: false` and the 403.
 */
export const SUBSCRIBE_DENIED = '403:denied_by_security_policy:subscribe_denied';
/** What Salesforce advises on a good connect: reconnect at once, a connect may be held 110 s. */
const CONNECTED_ADVICE = { reconnect: 'retry', interval: 0, timeout: 110_000 };

export function salesforceStreamingRouter(state: StreamingState): express.Router {
  const router = express.Router();
  router.post('/cometd/:version', express.json({ type: () => true, limit: '1mb' }), (req, res) => {
    const parsed = Messages.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json([{ successful: false, error: '400::Bad request' }]);
      return;
    }
    const token = /^(?:OAuth|Bearer) (\S+)$/.exec(req.get('authorization') ?? '')?.[1];
    const authError = !token
      ? '401::Request requires authentication'
      : state.isAuthorized(token)
        ? null
        : '401::Authentication invalid';
    const replies = parsed.data
      .filter((m) => m.channel !== '/meta/connect')
      .map((m) => answer(state, m, authError));
    const connect = parsed.data.find((m) => m.channel === '/meta/connect');
    if (!connect) {
      res.json(replies);
      return;
    }
    void hold(state, connect, authError, req, res).then((connectReplies) => {
      if (!res.writableEnded && !res.destroyed) res.json([...replies, ...connectReplies]);
    });
  });
  return router;
}

function answer(state: StreamingState, m: Message, authError: string | null): Record<string, unknown> {
  const base = { channel: m.channel, ...(m.id === undefined ? {} : { id: m.id }) };
  if (m.channel === '/meta/handshake') {
    if (authError)
      return {
        ...base,
        successful: false,
        error: '403::Handshake denied',
        ext: { sfdc: { failureReason: authError } },
        advice: { reconnect: 'none' },
      };
    state.handshakes++;
    const client: BayeuxClient = { id: randomBytes(12).toString('hex'), cursors: new Map(), wake: null };
    state.clients.set(client.id, client);
    return {
      ...base,
      successful: true,
      version: '1.0',
      minimumVersion: '1.0',
      clientId: client.id,
      supportedConnectionTypes: ['long-polling'],
      ext: { replay: true, 'payload.format': true },
      advice: CONNECTED_ADVICE,
    };
  }
  const client = m.clientId ? state.clients.get(m.clientId) : undefined;
  const withClient = { ...base, ...(m.clientId ? { clientId: m.clientId } : {}) };
  if (authError) return { ...withClient, successful: false, error: authError };
  if (!client)
    return {
      ...withClient,
      successful: false,
      error: '403::Unknown client',
      advice: { reconnect: 'handshake', interval: 0 },
    };

  switch (m.channel) {
    case '/meta/subscribe':
    case '/meta/unsubscribe': {
      const channel = typeof m.subscription === 'string' ? m.subscription : m.subscription?.[0];
      const reply = { ...withClient, subscription: channel };
      if (!channel) return { ...reply, successful: false, error: '400::Channel name not specified' };
      if (m.channel === '/meta/unsubscribe') {
        client.cursors.delete(channel);
        return { ...reply, successful: true };
      }
      const replay = m.ext?.replay?.[channel];
      const error = !CHANNEL.test(channel)
        ? `400::The channel you requested to subscribe to does not exist ${channel}`
        : !maySubscribe(state, channel)
          ? SUBSCRIBE_DENIED
          : subscribe(state, client, channel, replay ?? -1);
      state.subscribes.push({ clientId: client.id, channel, replay, successful: !error });
      return error ? { ...reply, successful: false, error } : { ...reply, successful: true };
    }
    case '/meta/disconnect':
      state.clients.delete(client.id);
      client.wake?.();
      return { ...withClient, successful: true };
    default:
      return { ...withClient, successful: false, error: '403::Publish denied' };
  }
}

/**
 * A per-object change event channel needs View All Records on the object (or View All Data),
 * enforced when subscribing; /data/ChangeEvents and custom channels accept anyone and filter on
 * delivery (Salesforce CDC docs, "Required Permissions for Change Event Subscribers").
 */
function maySubscribe(state: StreamingState, channel: string): boolean {
  const object = OBJECT_CHANNEL.exec(channel);
  if (!object) return true;
  return state.mayView(object[2] ? `${object[1]}__c` : object[1]!);
}

function subscribe(
  state: StreamingState,
  client: BayeuxClient,
  channel: string,
  replay: number,
): string | null {
  const from = state.subscribeFrom(channel, replay);
  if (from === null)
    return `400::The replayId ${replay} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.`;
  client.cursors.set(channel, from);
  // Retained events (-2, or after N) go out on the held connect right away.
  client.wake?.();
  return null;
}

/** A connect answers at once with what is due, else waits up to `holdMs` for something to arrive. */
async function hold(
  state: StreamingState,
  m: Message,
  authError: string | null,
  req: Request,
  res: Response,
): Promise<Record<string, unknown>[]> {
  const base = { channel: m.channel, ...(m.id === undefined ? {} : { id: m.id }), clientId: m.clientId };
  // Salesforce checks the session on every connect and tells the client not to retry with it.
  if (authError)
    return [{ ...base, successful: false, error: authError, advice: { reconnect: 'none', interval: 0 } }];
  const client = m.clientId ? state.clients.get(m.clientId) : undefined;
  if (!client)
    return [
      {
        ...base,
        successful: false,
        error: '403::Unknown client',
        advice: { reconnect: 'handshake', interval: 0 },
      },
    ];
  client.wake?.();
  let due = state.takeDeliveries(client);
  if (!due.length) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, state.holdMs);
      function done() {
        clearTimeout(timer);
        if (client!.wake === done) client!.wake = null;
        res.off('close', done);
        resolve();
      }
      client.wake = done;
      res.on('close', done);
    });
    if (!state.clients.has(client.id))
      return [
        {
          ...base,
          successful: false,
          error: '403::Unknown client',
          advice: { reconnect: 'handshake', interval: 0 },
        },
      ];
    due = state.takeDeliveries(client);
  }
  return [...due, { ...base, successful: true, advice: CONNECTED_ADVICE }];
}
