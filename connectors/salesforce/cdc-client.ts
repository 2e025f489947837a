import type { Client } from 'faye';
import type { Connection } from 'jsforce';
import { StreamingExtension } from 'jsforce/lib/api/streaming.js';
import { refusalWatch } from './cdc-refusal.js';

/** The CometD client of one CDC channel, as jsforce's streaming API builds it, and how it is shut. */

/** jsforce's typings of faye's client leave out `disconnect` and the advice it follows. */
export type StreamingClient = Client & { disconnect(): unknown; _advice: { reconnect: string } };

/**
 * `disconnect` only stops a connected client; one still handshaking (a retry after a failure) would
 * go on retrying in the background, so it is also told, as a server would, never to reconnect.
 */
export function shut(client: StreamingClient): void {
  client.disconnect();
  client._advice.reconnect = 'none';
}

/** A client resuming `channel` after `replayFrom`, reporting refused subscribes and authentication failures. */
export function channelClient(
  conn: Connection,
  channel: string,
  replayFrom: number,
  on: { refused: (error: string) => void; authFailure: (message: unknown) => void },
): StreamingClient {
  return conn.streaming.createClient([
    refusalWatch(channel, on.refused),
    new StreamingExtension.Replay(channel, replayFrom),
    new StreamingExtension.AuthFailure(on.authFailure),
  ]) as StreamingClient;
}
