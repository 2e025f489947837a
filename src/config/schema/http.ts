import { z } from 'zod';

/** The node HTTP server: how long a client may take, and which proxies in front of it are believed. */
export const HttpServer = z
  .strictObject({
    /**
     * Proxies in front of leadflow (hops) whose `X-Forwarded-For` / `-Proto` are believed (express
     * `trust proxy`): the client address the Salesforce IP allow-list checks, the scheme HubSpot
     * signed. 0 (default): the peer address is the client, forwarded headers are ignored.
     */
    trustProxy: z.number().int().min(0).max(10).default(0),
    /** A client must have sent all its headers within this (slow-header attacks). */
    headersTimeoutMs: z.number().int().min(1_000).max(120_000).default(10_000),
    /** …and its whole request, body included, within this. */
    requestTimeoutMs: z.number().int().min(1_000).max(600_000).default(30_000),
    /** An idle keep-alive connection is closed after this (keep it above a load balancer's idle timeout). */
    keepAliveTimeoutMs: z.number().int().min(1_000).max(600_000).default(5_000),
  })
  .refine((h) => h.headersTimeoutMs <= h.requestTimeoutMs, {
    message: 'must not exceed requestTimeoutMs',
    path: ['headersTimeoutMs'],
  });
export type HttpServer = z.infer<typeof HttpServer>;
