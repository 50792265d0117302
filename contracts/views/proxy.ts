/**
 * The proxy's view (contracts/runtimeConfig.ts `routes`): its routes resolved by the program
 * (components/model/proxyView.ts) from its settings, or by default one per web and game
 * service, each with its upstream replicas at their addresses on a network the proxy shares.
 * The proxy routes with them as they are; it never sees the rest of the datacenter.
 */
import { z } from "zod";

export const upstreamSchema = z.object({
  /** Replica id, or `host:port` for an explicit server. */
  id: z.string(),
  host: z.string(),
  port: z.number().int().min(1).max(65535),
});

export const resolvedRouteSchema = z.object({
  /** Host names this route answers, lower case (`*.suffix` and `*` allowed). */
  hosts: z.array(z.string()).min(1),
  pathPrefix: z.string().startsWith("/"),
  balance: z.enum(["round-robin", "least-connections"]),
  healthCheck: z.object({
    path: z.string().startsWith("/"),
    intervalMs: z.number().int().positive(),
    timeoutMs: z.number().int().positive(),
    unhealthyAfter: z.number().int().positive(),
    healthyAfter: z.number().int().positive(),
  }),
  cache: z.boolean(),
  upstreams: z.array(upstreamSchema).min(1),
});

export type ResolvedRoute = z.output<typeof resolvedRouteSchema>;
export type Upstream = z.output<typeof upstreamSchema>;

/**
 * ACME issuing for hosting customers' names (the stack's `certificates`, components/spec/): the
 * proxy orders one certificate per domain set from `directoryUrl`, answering HTTP-01 on its
 * HTTP port, and serves it by SNI once issued; until then the datacenter CA's certificate.
 * Only these names are ever ordered: nothing a client sends adds one.
 */
export const acmeViewSchema = z.object({
  /** The CA's ACME directory (RFC 8555), https. */
  directoryUrl: z.url({ protocol: /^https$/ }),
  /** The account's contact (mailto:). */
  email: z.string(),
  /** PEM certificates to trust for the directory's HTTPS besides the system's (a test CA); unset: the system's only. */
  caBundle: z.string().optional(),
  /** Renew when this fraction of a certificate's lifetime has passed (0.67: 60 of 90 days). */
  renewAfter: z.number().gt(0).lt(1),
  /** Orders running at once; the others wait their turn. */
  maxOrdersInFlight: z.number().int().min(1).max(16),
  /**
   * Every replica of this proxy service at its HTTP address on a network they share (this one's
   * included; a replica skips its own). The CA's validation may reach any replica (DNS and a load
   * balancer pick one), so a replica asks the others for a token it did not issue itself.
   */
  peers: z.array(z.object({ host: z.string(), port: z.number().int().min(1).max(65535) })).max(64),
  /** One certificate per set: a customer's names (its domains and their `www.`), at most 100 (Let's Encrypt's limit). */
  domainSets: z.array(z.object({ id: z.string().regex(/^[a-z0-9-]+$/), names: z.array(z.string()).min(1).max(100) })),
});

export type AcmeView = z.output<typeof acmeViewSchema>;
