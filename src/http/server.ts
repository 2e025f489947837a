import { createServer, type RequestListener, type Server } from 'node:http';
import type { HttpServer } from '../config/schema.js';

/**
 * The node HTTP server for the app, with timeouts that bound what a slow or silent client can hold:
 * headers, the whole request, idle keep-alive connections. Node checks the first two on an
 * interval: a tenth of the headers timeout, so a client is cut off close to its deadline.
 */
export function createHttpServer(app: RequestListener, limits: HttpServer): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.floor(limits.headersTimeoutMs / 10)),
    },
    app,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  return server;
}

/** Listens and resolves once the port is open. */
export function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The port a listening server got (the one asked for, or the free one picked for 0). */
export function boundPort(server: Server, asked: number): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : asked;
}
