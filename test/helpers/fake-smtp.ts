import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server (smtp-server) on 127.0.0.1 that keeps what it accepts, parsed (mailparser).
 * `refuseNext` answers the next message's DATA with an SMTP reply code (451: try later, 550: refused).
 */
export interface FakeSmtp {
  /** For SMTP_URL. */
  url: string;
  received: ParsedMail[];
  refuseNext(code: 451 | 550, times?: number): void;
  close(): Promise<void>;
}

export async function startFakeSmtp(): Promise<FakeSmtp> {
  const received: ParsedMail[] = [];
  const refusals: number[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const code = refusals.shift();
      simpleParser(stream).then(
        (mail) => {
          if (code)
            return callback(
              Object.assign(new Error(code >= 500 ? 'mailbox unavailable' : 'try again later'), {
                responseCode: code,
              }),
            );
          received.push(mail);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    refuseNext: (code, times = 1) => {
      for (let i = 0; i < times; i++) refusals.push(code);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
