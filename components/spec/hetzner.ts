/**
 * The optional `hetzner` block of the datacenter spec: settings only the Hetzner Cloud target
 * reads. It sits beside the `docker` block; the model and the planner never look at it, so
 * switching a stack's target never changes the plan. The spec owns the stack's format, so the
 * schema lives here and the target imports it (components/targets/hetzner/), never the other
 * way. Cross-checks that need the plan (does a host fit a server type, is a location allowed)
 * live with the target in `components/targets/hetzner/settings.ts`.
 */
import { z } from "zod";

export const HETZNER_PLACEMENT = ["feed", "rack"] as const;
export const HETZNER_BACKUPS = ["off", "stateful", "all"] as const;

export const HetznerTargetSchema = z.strictObject({
  /** Location of every server unless `feedLocations` says otherwise. @default "fsn1" (Falkenstein, Germany) */
  location: z.string().default("fsn1"),
  /** Feed id → location: put the hosts of a feed in their own location (a second city as a second "feed"). */
  feedLocations: z.record(z.string(), z.string()).default({}),
  /** Locations data may live in (data residency); every location used must be listed. @default ["fsn1", "nbg1"] (Germany) */
  allowedLocations: z.array(z.string()).min(1).default(["fsn1", "nbg1"]),
  /** Operating system image of every server. @default "debian-12" */
  image: z.string().default("debian-12"),
  /** Host id → Hetzner server type, overriding the smallest type that fits the host's capacity. */
  serverTypes: z.record(z.string(), z.string()).default({}),
  /** Failure domain each spread placement group stands for. @default "feed" */
  placement: z.enum(HETZNER_PLACEMENT).default("feed"),
  /** SSH key for the servers: the name of a key already in the Hetzner project, or a public key to upload. */
  sshKey: z.strictObject({ name: z.string().min(1).optional(), publicKey: z.string().min(1).optional() }).optional(),
  /** Container registry the role images are pushed to and pulled from. The password is the secret `serverpark:registryPassword`. */
  registry: z
    .strictObject({
      /** Registry host, e.g. ghcr.io or registry.example.com:5000. */
      server: z.string().min(1),
      /** Repository prefix under the server, e.g. acme/serverpark. */
      namespace: z.string().regex(/^[a-z0-9]+([._/-][a-z0-9]+)*$/, "expected a lower-case repository path such as acme/serverpark"),
      username: z.string().min(1),
    })
    .optional(),
  /** Source CIDRs allowed to reach management (SSH) and operator ports (the NOC page). */
  adminCidrs: z.array(z.string()).default([]),
  /** A Hetzner load balancer in front of the proxy replicas. */
  loadBalancer: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** @default "lb11" */
      type: z.string().default("lb11"),
      /**
       * The balancer's address on the internet network its proxies share. It sends each
       * client's address with the PROXY protocol, and the proxies must trust exactly this
       * address (`settings.proxyProtocol.from`). @default that network's third address (offset 2)
       */
      privateIp: z.string().optional(),
    })
    .default({ enabled: false, type: "lb11" }),
  /** Hetzner server backups: none, hosts running a service that declares `backup`, or every host. @default "stateful" */
  backups: z.enum(HETZNER_BACKUPS).default("stateful"),
});

export type HetznerSettings = z.output<typeof HetznerTargetSchema>;
