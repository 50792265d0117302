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
