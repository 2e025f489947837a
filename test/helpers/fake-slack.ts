import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';

/**
 * A local fake of the three Slack Web API methods the rep alert uses, answering as Slack does: HTTP
 * 200 with `{ok: true, …}` or `{ok: false, error}` (users_not_found, invalid_auth, not_authed,
 * channel_not_found), and HTTP 429 with Retry-After when rate limited. Bound to 127.0.0.1.
 */
export interface FakeSlack {
  /** Base URL for `alerts.slack.apiUrl`. */
  url: string;
  token: string;
  /** email → member id */
  users: Map<string, string>;
  posted: { channel: string; text: string; metadata?: unknown }[];
  calls: string[];
  /**
   * The next call of `method` answers this instead: `{status: 429, retryAfter}`, `{error}`, or
   * `{drop: true}` (does what was asked, then the connection breaks before the answer).
   */
  failNext(method: string, answer: Fault, times?: number): void;
  close(): Promise<void>;
}

type Fault = { status: 429; retryAfter: number } | { error: string } | { drop: true };

export async function startFakeSlack(): Promise<FakeSlack> {
  const token = 'xoxb-test-1234';
  const users = new Map<string, string>();
  const posted: FakeSlack['posted'] = [];
  const calls: string[] = [];
  const faults: { method: string; answer: Fault }[] = [];
  const channelOf = (user: string) => `D${user.slice(1)}`;
  const app = express();
  // The SDK posts form-encoded arguments; JSON is accepted too, as Slack does.
  app.use(express.urlencoded({ extended: false }), express.json());
  app.post('/api/:method', (req, res) => {
    const method = req.params.method;
    calls.push(method);
    const body = req.body as Record<string, string>;
    const at = faults.findIndex((f) => f.method === method);
    const fault = at >= 0 ? faults.splice(at, 1)[0]!.answer : undefined;
    const drop = fault && 'drop' in fault;
    if (fault && !drop) {
      const answer = fault;
      if ('status' in answer) {
        res
          .status(429)
          .set('Retry-After', String(answer.retryAfter))
          .json({ ok: false, error: 'ratelimited' });
      } else res.json({ ok: false, error: answer.error });
      return;
    }
    const auth = req.get('authorization');
    if (!auth) return void res.json({ ok: false, error: 'not_authed' });
    if (auth !== `Bearer ${token}`) return void res.json({ ok: false, error: 'invalid_auth' });
    switch (method) {
      case 'users.lookupByEmail': {
        const id = users.get(String(body.email ?? '').toLowerCase());
        if (!id) return void res.json({ ok: false, error: 'users_not_found' });
        return void res.json({
          ok: true,
          user: { id, team_id: 'T0001', name: body.email?.split('@')[0], profile: { email: body.email } },
        });
      }
      case 'conversations.open': {
        const user = String(body.users ?? '');
        if (![...users.values()].includes(user)) return void res.json({ ok: false, error: 'user_not_found' });
        return void res.json({ ok: true, channel: { id: channelOf(user) } });
      }
      case 'chat.postMessage': {
        const channel = String(body.channel ?? '');
        if (![...users.values()].map(channelOf).includes(channel))
          return void res.json({ ok: false, error: 'channel_not_found' });
        const ts = `${Math.floor(Date.now() / 1000)}.${String(posted.length).padStart(6, '0')}`;
        const metadata =
          typeof body.metadata === 'string' ? (JSON.parse(body.metadata) as unknown) : body.metadata;
        posted.push({ channel, text: String(body.text ?? ''), metadata });
        if (drop) return void req.socket.destroy();
        return void res.json({
          ok: true,
          channel,
          ts,
          message: { type: 'message', text: body.text, user: 'U0BOT', bot_id: 'B0001', ts },
        });
      }
      default:
        return void res.json({ ok: false, error: 'unknown_method' });
    }
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`,
    token,
    users,
    posted,
    calls,
    failNext: (method, answer, times = 1) => {
      for (let i = 0; i < times; i++) faults.push({ method, answer });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
