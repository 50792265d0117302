/**
 * The NOC's view (contracts/runtimeConfig.ts `noc`): what to probe and what to draw, both
 * derived from the plan by the program (components/model/nocView.ts). The NOC probes the
 * targets as listed and colours the diagram with their live state; it derives neither.
 */
import { z } from "zod";

const portSchema = z.object({ name: z.string(), port: z.number().int(), protocol: z.string() });

/** One port of one replica, at the address the NOC reaches it on (its management network first). */
export const probeTargetSchema = z.object({
  service: z.string(),
  role: z.string(),
  replica: z.string(),
  host: z.string(),
  port: portSchema,
  address: z.string(),
  /**
   * A hosting customer's domain, asked for over HTTPS through this proxy replica (SNI and
   * Host, the certificate checked against the datacenter CA); the port is then named
   * `site:<domain>`, one target per domain and proxy replica.
   */
  site: z.string().optional(),
  /**
   * The site's certificate comes from an ACME CA (the stack's `certificates`): the probe trusts
   * the system's roots besides the datacenter CA, whose certificate the proxy serves until the
   * ACME one exists. The name check stays on.
   */
  acme: z.literal(true).optional(),
  /**
   * The target is a highly available db group's pg_auto_failover monitor: it holds no
   * application data and no login for the NOC, so it is up while it answers PostgreSQL's
   * authentication (a refused login included), down when it refuses or never answers.
   */
  part: z.literal("monitor").optional(),
});

/** The datacenter drawing's model: feeds → PDUs → racks → hosts → replicas, and the services. */
export const diagramModelSchema = z.object({
  datacenter: z.string(),
  domain: z.string(),
  hosts: z.array(
    z.object({
      id: z.string(),
      rack: z.string(),
      kind: z.string().optional(),
      psus: z.array(z.object({ pdu: z.string(), feed: z.string() })),
      /** Replica ids on this host, in placement order. */
      replicas: z.array(z.string()),
    }),
  ),
  replicas: z.array(z.object({ id: z.string(), service: z.string(), role: z.string(), host: z.string() })),
  services: z.array(z.object({ id: z.string(), role: z.string(), replicas: z.array(z.string()) })),
});

export const nocViewSchema = z.object({
  /** Every port worth probing of every replica but the NOC's own. */
  targets: z.array(probeTargetSchema),
  /** Replicas the NOC shares no network with: drawn "unknown", never probed. */
  unreachable: z.array(z.string()),
  /** Proxy service id → a name on its certificate, for the HTTPS probe through it (SNI and Host). */
  proxyHosts: z.record(z.string(), z.string().min(1)),
  /**
   * Host id → the address of its host agent on a network the NOC shares with it (management
   * first); the NOC reads each agent's `GET /power` there. Hosts missing here are "unknown".
   */
  hostAgents: z.record(z.string(), z.string()),
  diagram: diagramModelSchema,
});

type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export type ProbeTarget = DeepReadonly<z.output<typeof probeTargetSchema>>;
export type DiagramModel = DeepReadonly<z.output<typeof diagramModelSchema>>;
export type DiagramHost = DiagramModel["hosts"][number];
export type DiagramPsu = DiagramHost["psus"][number];
export type DiagramReplica = DiagramModel["replicas"][number];
export type DiagramService = DiagramModel["services"][number];
export type NocView = DeepReadonly<z.output<typeof nocViewSchema>>;
