/**
 * The proxy role's settings (`services[].settings` in the stack), validated with zod at
 * start-up and exported so `serverpark validate` can check a stack before deploying it.
 * Routes send a host (and path prefix) to a pool: a service of the datacenter (its
 * replicas from the plan's directory) or explicit `host:port` servers.
 */
import { z } from "zod";
import { cidrSchema } from "../networks";

const HOST = /^(?:\*|(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/;
const hostname = z.string().toLowerCase().regex(HOST, "expected a host name, *.suffix, or *");
const server = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, "expected host:port");

export const healthCheckSchema = z.strictObject({
  /** Path requested on every upstream; any status below 500 counts as healthy. @default "/" */
  path: z.string().startsWith("/").default("/"),
  /** @default 2000 */
  intervalMs: z.number().int().min(100).max(600_000).default(2000),
  /** @default 1000 */
  timeoutMs: z.number().int().min(50).max(60_000).default(1000),
  /** Consecutive failed checks before an upstream is taken out. @default 2 */
  unhealthyAfter: z.number().int().min(1).max(100).default(2),
  /** Consecutive good checks before it is taken back. @default 2 */
  healthyAfter: z.number().int().min(1).max(100).default(2),
});

export const routeSchema = z
  .strictObject({
    /** Host names this route answers (`*.example.test` and `*` allowed). */
    hosts: z.array(hostname).min(1),
    /** Longest matching prefix wins. @default "/" */
    pathPrefix: z.string().startsWith("/").default("/"),
    /** A service of the datacenter; its replicas are the pool. */
    service: z.string().optional(),
    /** The service port to use (by name). @default "http" */
    port: z.string().default("http"),
    /** Explicit upstream servers instead of a service. */
    servers: z.array(server).min(1).optional(),
    /** @default "round-robin" */
    balance: z.enum(["round-robin", "least-connections"]).default("round-robin"),
    healthCheck: healthCheckSchema.default(healthCheckSchema.parse({})),
    /** Cache responses that allow it (Cache-Control / Expires). @default true */
    cache: z.boolean().default(true),
  })
  .refine((r) => (r.service === undefined) !== (r.servers === undefined), { message: "expected exactly one of service or servers" });

export const proxySettingsSchema = z.strictObject({
  /** The routes; none means one route per web service of the datacenter, by its names. @default [] */
  routes: z.array(routeSchema).default([]),
  /** Passive health: consecutive failures (connect errors, timeouts, 502-504) before ejection, and for how long. */
  passive: z
    .strictObject({ failures: z.number().int().min(1).default(3), ejectMs: z.number().int().min(100).default(10_000) })
    .default({ failures: 3, ejectMs: 10_000 }),
  /** Extra attempts on another upstream for idempotent requests without a body. @default 2 */
  retries: z.number().int().min(0).max(5).default(2),
  /** @default 2000 */
  connectTimeoutMs: z.number().int().min(50).default(2000),
  /** Time for an upstream to start answering. @default 30000 */
  upstreamTimeoutMs: z.number().int().min(100).default(30_000),
  /** Requests per second per client address (token bucket); 0 disables. */
  rateLimit: z
    .strictObject({ requestsPerSecond: z.number().min(0).default(100), burst: z.number().int().min(1).default(200) })
    .default({ requestsPerSecond: 100, burst: 200 }),
  /** Response bytes per second per client address; 0 disables. */
  bandwidth: z
    .strictObject({
      bytesPerSecond: z.number().int().min(0).default(0),
      burstBytes: z
        .number()
        .int()
        .min(1024)
        .default(256 * 1024),
    })
    .default({ bytesPerSecond: 0, burstBytes: 256 * 1024 }),
  /**
   * A load balancer in front that passes each client's address with the PROXY protocol (v1 or
   * v2; Hetzner's load balancer with `proxyprotocol`, HAProxy, nginx): connections from these
   * networks must start with the header, and the address it names is the client's for rate
   * limits, logs and X-Forwarded-For. Connections from elsewhere carry no header. Unset: none.
   */
  proxyProtocol: z
    .strictObject({
      from: z.array(cidrSchema).min(1),
      /** Time the balancer has to send the header. @default 5000 */
      headerTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    })
    .optional(),
  /** Largest request body. @default 10485760 */
  maxBodyBytes: z
    .number()
    .int()
    .min(0)
    .default(10 * 1024 * 1024),
  /** Shared response cache. */
  cache: z
    .strictObject({
      maxBytes: z
        .number()
        .int()
        .min(0)
        .default(64 * 1024 * 1024),
      maxObjectBytes: z
        .number()
        .int()
        .min(0)
        .default(1024 * 1024),
    })
    .default({ maxBytes: 64 * 1024 * 1024, maxObjectBytes: 1024 * 1024 }),
  /** Site certificates by SNI name; others get the replica certificate. @default [] */
  certificates: z
    .array(z.strictObject({ hosts: z.array(hostname).min(1), certFile: z.string().startsWith("/"), keyFile: z.string().startsWith("/") }))
    .default([]),
  /** @default true */
  accessLog: z.boolean().default(true),
});

export type ProxySettings = z.output<typeof proxySettingsSchema>;
export type RouteSettings = z.output<typeof routeSchema>;
