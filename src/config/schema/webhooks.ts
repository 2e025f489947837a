import { z } from 'zod';

/** A TLS certificate's SHA-256 (or, as some proxies give it, SHA-1) fingerprint in hex, colons optional. */
const CertFingerprint = z
  .string()
  .transform((s) => s.replace(/:/g, '').toLowerCase())
  .pipe(z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'a SHA-256 (or SHA-1) fingerprint in hex'));

/**
 * POST /webhooks/salesforce/<SALESFORCE_OUTBOUND_TOKEN>: Outbound Messages are unsigned, so besides
 * the URL secret an admin can demand Salesforce's source addresses and its client certificate.
 */
export const SalesforceOutboundEndpoint = z.strictObject({
  /**
   * A 100-notification message with 28 Lead fields (a 255-character description among them) is
   * 203 KB: 384 KiB leaves room, and keeps what an authenticated sender can make us parse small.
   */
  maxBodyBytes: z
    .number()
    .int()
    .min(16 * 1024)
    .max(10 * 1024 * 1024)
    .default(384 * 1024),
  /** Messages read and parsed at once (parsing is synchronous); more are answered 503 + Retry-After. */
  maxConcurrent: z.number().int().min(1).max(64).default(2),
  /**
   * CIDRs (IPv4 and IPv6) deliveries may come from, e.g. Salesforce's published ranges; empty
   * (default): any address. Behind a proxy, set `http.trustProxy`.
   */
  allowIps: z
    .array(z.union([z.cidrv4(), z.cidrv6()], { error: 'a CIDR such as 13.108.0.0/14 or 2a01:111:f400::/48' }))
    .default([]),
  /**
   * Demand the client certificate Salesforce sends (the org's or a chosen one): its fingerprint,
   * read from the TLS connection when TLS ends in this process, or from `header`, which a proxy that
   * verified the certificate sets (and overwrites when a client sends it).
   */
  clientCertificate: z
    .strictObject({
      header: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name')
        .transform((h) => h.toLowerCase())
        .optional(),
      fingerprints: z.array(CertFingerprint).min(1),
    })
    .optional(),
});
export type SalesforceOutboundEndpoint = z.infer<typeof SalesforceOutboundEndpoint>;

export const Webhooks = z.strictObject({
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(1024 * 1024),
  salesforce: SalesforceOutboundEndpoint.prefault({}),
  /** POST /webhooks/events: the event types your own systems send there, besides the built-in ones. */
  events: z.strictObject({ types: z.array(z.string().min(1).max(100)).default([]) }).prefault({}),
  hubspot: z
    .strictObject({
      /** The URL HubSpot calls, as configured in the app; needed behind a proxy. Defaults to the request's own URL. */
      publicUrl: z.url().optional(),
      /** v3 (timestamped HMAC) for current apps; v1 only for older apps that still send it. */
      signatureVersion: z.enum(['v3', 'v1']).default('v3'),
      maxSkewMs: z.number().int().positive().default(300_000),
    })
    .prefault({}),
});
export type Webhooks = z.infer<typeof Webhooks>;
