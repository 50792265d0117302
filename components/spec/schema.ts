/**
 * The datacenter spec: the shape of the stack config key `serverpark:datacenter`, as a zod
 * schema. Shape and per-field rules live here; rules that relate one part of the spec to
 * another (a PSU on a missing PDU, overlapping CIDRs, …) live in `validate.ts` so that every
 * problem can be reported at once with its config path.
 */
import { z } from "zod";
import { ROLES } from "../../contracts/roles";
import { EXPOSURES } from "../../contracts/networks";
import { extraRecordSchema } from "../../contracts/settings/dns";
import { HetznerTargetSchema } from "./hetzner";
import type { AnyRoleSettings } from "./roleSettings";

/** Lower-case DNS label: used in container names, DNS names and Pulumi resource names. */
const id = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$/, "expected a lower-case name of letters, digits and '-' (1–32 chars, starting with a letter)");

const feedId = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,15}$/, "expected a short feed name such as A or B");

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();

export const UpsSchema = z.strictObject({
  /** Rated output power of the UPS. */
  capacityKw: positive,
  /** Battery runtime at full rated load, in minutes. Runtime at lower load is longer (see the power model). */
  runtimeMinutes: positive,
});

export const GeneratorSchema = z.strictObject({
  capacityKw: positive,
  /** Time from utility loss until the generator carries the load. */
  startDelaySeconds: nonNegative,
  /** Hours of fuel at full rated load. */
  fuelHours: positive,
  /** Probability that one start attempt fails (0–1). */
  startFailureProbability: z.number().min(0).max(1).default(0.01),
});

export const FeedSchema = z.strictObject({
  id: feedId,
  description: z.string().optional(),
  /** Utility connection of the feed. */
  utility: z.strictObject({ capacityKw: positive }),
  /** A feed without UPS drops its load the moment utility power fails. */
  ups: UpsSchema.optional(),
  generator: GeneratorSchema.optional(),
});

export const PduSchema = z.strictObject({
  id,
  feed: feedId,
  capacityKw: positive,
});

export const RackSchema = z.strictObject({
  id,
  description: z.string().optional(),
  /** Rack height in units. */
  units: z.number().int().positive().default(42),
  pdus: z.array(PduSchema).min(1, "a rack needs at least one PDU"),
});

export const HOST_KINDS = ["dedicated", "virtualization"] as const;
export type HostKind = (typeof HOST_KINDS)[number];

export const CapacitySchema = z.strictObject({
  cpus: positive,
  memoryGb: positive,
  diskGb: positive,
});

export const HostSchema = z.strictObject({
  id,
  rack: id,
  kind: z.enum(HOST_KINDS),
  /** PDU ids, one per power supply (one or two). Every PDU must be in the host's rack. */
  psus: z.array(id).min(1, "a host needs at least one power supply").max(2, "at most two power supplies are modelled"),
  capacity: CapacitySchema,
  /** Power drawn at typical load, in watts. */
  powerWatts: positive.default(300),
  /** Height in rack units. */
  units: z.number().int().positive().default(1),
});

export const PLAN_KINDS = ["vps", "dedicated"] as const;

/** A lower-case DNS domain such as park.example (the datacenter's, or a customer's). */
const domainName = z.string().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "expected a lower-case DNS domain such as park.example");
const count = z.number().int().min(0).max(1_000_000);

/**
 * What a customer who buys a plan for shared hosting gets: disk quota and limits. A plan
 * without `hosting` sizes services only and cannot be sold to customers.
 */
export const HostingLimitsSchema = z.strictObject({
  /** Disk quota of the customer's files (site, uploads and kept versions), in MiB. */
  quotaMb: z.number().int().min(1).max(16_777_216),
  /** Customers this plan may be sold to (its capacity). */
  customers: count.min(1),
  /** Domains per customer. @default 1 */
  domains: count.min(1).default(1),
  /** SFTP/FTPS accounts per customer. @default 1 */
  fileAccounts: count.min(1).default(1),
  /** Mailboxes per customer. @default 0 */
  mailboxes: count.default(0),
  /** Largest quota of one mailbox, in MiB. @default 1024 */
  mailboxQuotaMb: z.number().int().min(1).max(16_777_216).default(1024),
});

export const PlanSchema = z.strictObject({
  id,
  /** `vps` plans run on virtualization hosts; `dedicated` plans own a whole dedicated host. */
  kind: z.enum(PLAN_KINDS),
  cpus: positive,
  memoryGb: positive,
  diskGb: positive,
  priceEurMonth: nonNegative.optional(),
  /** Sold to customers as shared hosting, with these limits. */
  hosting: HostingLimitsSchema.optional(),
});

export { EXPOSURES, type Exposure } from "../../contracts/networks";

export const NetworkSchema = z.strictObject({
  id,
  cidr: z.string(),
  exposure: z.enum(EXPOSURES),
  description: z.string().optional(),
});

export const BackupSchema = z.strictObject({
  /** Five-field cron expression in UTC. */
  schedule: z.string().regex(/^(\S+\s+){4}\S+$/, 'expected a five-field cron expression such as "0 3 * * *"'),
  retentionDays: z.number().int().positive(),
  /** Where backups are kept: a host in another rack and feed than the service's replicas. */
  targetHost: id.optional(),
  /**
   * Room the target's backup store keeps for this service's copies, in GB (GiB); beyond it the
   * store refuses new copies (507) and never deletes older ones to make room.
   * @default 32 (contracts/backups.ts DEFAULT_BACKUP_QUOTA_BYTES)
   */
  quotaGb: z.number().positive().optional(),
});

export const ServiceSchema = z.strictObject({
  id,
  role: z.enum(ROLES),
  description: z.string().optional(),
  replicas: z.number().int().min(1).max(64),
  /** The service is up while at least this many replicas run. */
  minReplicas: z.number().int().min(1).optional(),
  /** Declares that the service must survive the loss of any single host, rack or feed. */
  redundant: z.boolean().optional(),
  plan: id,
  networks: z.array(id).min(1, "a service needs at least one network"),
  /** Attach every replica to the management network for health and metrics (default true). */
  management: z.boolean().default(true),
  /** Role-specific settings, checked by the role. */
  settings: z.record(z.string(), z.unknown()).default({}),
  backup: BackupSchema.optional(),
});

export const DockerTargetSchema = z.strictObject({
  /** Address the local datacenter publishes ports on. Only loopback is allowed. */
  publishAddress: z.string().default("127.0.0.1"),
  /** First host port used for published service ports; ports are handed out upwards from it. */
  basePort: z.number().int().min(1024).max(64000).default(20000),
  /**
   * Docker-only bridge through which operator ports (the NOC page) are published: Docker
   * cannot publish ports of containers that sit only on internal networks.
   */
  operatorCidr: z.string().default("10.42.254.0/24"),
});

/** Failure/repair rate of one component kind, for the power model's availability estimate. */
const RateOverrideSchema = z.strictObject({
  failuresPerYear: nonNegative.optional(),
  meanRepairHours: positive.optional(),
});

/**
 * Overrides of the power model's reliability defaults (components/power/README.md lists the
 * defaults and their sources). Every field is optional.
 */
export const ReliabilitySchema = z.strictObject({
  rates: z
    .strictObject({
      feed: RateOverrideSchema.optional(),
      utility: RateOverrideSchema.optional(),
      ups: RateOverrideSchema.optional(),
      generator: RateOverrideSchema.optional(),
      pdu: RateOverrideSchema.optional(),
      rack: RateOverrideSchema.optional(),
      host: RateOverrideSchema.optional(),
    })
    .optional(),
  /** Hours for a UPS battery to recharge from empty. */
  upsRechargeHours: positive.optional(),
  /** Peukert-style exponent of battery runtime versus load (1 = constant energy). */
  upsPeukertExponent: z.number().min(1).max(2).optional(),
  /** UPS losses on battery as a fraction of its rating, drawn on top of the load (0–0.5). */
  upsIdleLossFraction: z.number().min(0).max(0.5).optional(),
  /** Fraction of full-load fuel burn a running generator uses at no load (0–1). */
  generatorIdleFuelFraction: z.number().min(0).max(1).optional(),
});

const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/;

export const CustomerDomainSchema = z.strictObject({
  name: domainName,
  /** The customer's own records, merged into the domain's zone (relative names hang off the domain). @default [] */
  records: z.array(extraRecordSchema).default([]),
});

export const FileAccountSchema = z.strictObject({
  /** Log-in name for SFTP and FTPS; unique in the datacenter. */
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "expected a lower-case user name such as alice"),
  /** Log in with a generated password (a Pulumi secret). @default true */
  password: z.boolean().default(true),
  /** OpenSSH public keys (`ssh-ed25519 AAAA… comment`) that may log in over SFTP. @default [] */
  sshKeys: z.array(z.string().regex(SSH_PUBLIC_KEY, "expected an OpenSSH public key such as ssh-ed25519 AAAA… user@host")).default([]),
});

export const MailboxSchema = z.strictObject({
  /** `local@domain`, the domain one of the customer's. */
  address: z.string().regex(/^[a-z0-9._+-]{1,64}@[a-z0-9.-]+$/, "expected a lower-case mail address such as info@example.test"),
  /** Quota in MiB; at most the plan's `mailboxQuotaMb` (its default). */
  quotaMb: z.number().int().min(1).max(16_777_216).optional(),
});

/** Where customers' site certificates come from (components/spec/certificates.ts checks the combination). */
export const CERTIFICATE_ISSUERS = ["datacenter-ca", "acme"] as const;

/**
 * An ACME CA (RFC 8555) the proxy orders customers' certificates from over HTTP-01
 * (images/proxy/src/acme.ts). Choosing it agrees to that CA's terms of service.
 */
export const AcmeIssuerSchema = z.strictObject({
  /** The CA's directory, https (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory). No default: required once a customer uses acme. */
  directoryUrl: z.url({ protocol: /^https$/, error: "expected an https URL of an ACME directory" }).optional(),
  /** The ACME account's contact, told about expiring certificates by CAs that mail. */
  email: z.string().regex(/^[^\s@]+@[a-z0-9.-]+\.[a-z]{2,63}$/, "expected a mail address such as hostmaster@example.test"),
  /** PEM CA certificates to trust for the directory's HTTPS besides the system's: a test CA such as pebble. */
  caBundle: z.string().startsWith("-----BEGIN CERTIFICATE-----", "expected PEM certificates").optional(),
  /** Renew when this fraction of a certificate's lifetime has passed. @default 0.67 (day 60 of 90) */
  renewAfter: z.number().min(0.1).max(0.9).default(0.67),
  /** Orders a proxy runs at once. @default 2 */
  maxOrdersInFlight: z.number().int().min(1).max(16).default(2),
});

export const CertificatesSchema = z.strictObject({
  /** `datacenter-ca`: the proxy's certificate from the datacenter CA names the customers (default); `acme`: each customer's from the ACME CA below. */
  issuer: z.enum(CERTIFICATE_ISSUERS).default("datacenter-ca"),
  acme: AcmeIssuerSchema.optional(),
});

/** A hosting customer: the plan they bought, their domains, file accounts and mailboxes. */
export const CustomerSchema = z.strictObject({
  id,
  description: z.string().optional(),
  /** A plan with `hosting` limits. */
  plan: id,
  domains: z.array(CustomerDomainSchema).min(1, "a customer needs at least one domain"),
  /** The first account's `public_html` is the document root of the customer's domains. */
  fileAccounts: z.array(FileAccountSchema).min(1, "a customer needs a file account to publish their site"),
  mailboxes: z.array(MailboxSchema).default([]),
  /** This customer's certificate issuer, overriding the stack's `certificates.issuer`. */
  certificates: z.strictObject({ issuer: z.enum(CERTIFICATE_ISSUERS) }).optional(),
});

export const DatacenterSpecSchema = z.strictObject({
  /** Datacenter name: prefixes every resource and container. */
  name: id,
  description: z.string().optional(),
  /** DNS zone the datacenter is authoritative for. */
  domain: domainName,
  /** Allowed ratio of promised vCPUs to host cores on virtualization hosts. */
  cpuOvercommit: z.number().min(1).max(16).default(4),
  feeds: z.array(FeedSchema).min(1, "a datacenter needs at least one power feed"),
  racks: z.array(RackSchema).min(1, "a datacenter needs at least one rack"),
  hosts: z.array(HostSchema).min(1, "a datacenter needs at least one host"),
  plans: z.array(PlanSchema).min(1, "declare at least one plan"),
  networks: z.array(NetworkSchema).min(1, "declare at least one network"),
  services: z.array(ServiceSchema).default([]),
  /** Hosting customers (components/spec/customers.ts checks them against plans, domains and services). */
  customers: z.array(CustomerSchema).default([]),
  /** Where the customers' site certificates come from; unset: the datacenter CA. */
  certificates: CertificatesSchema.optional(),
  /** Overrides of the power model's failure/repair rates (optional). */
  reliability: ReliabilitySchema.optional(),
  docker: DockerTargetSchema.default({ publishAddress: "127.0.0.1", basePort: 20000, operatorCidr: "10.42.254.0/24" }),
  /** Settings of the Hetzner Cloud target (components/targets/hetzner/README.md); ignored by the Docker target. */
  hetzner: HetznerTargetSchema.optional(),
});

type SchemaOutput = z.output<typeof DatacenterSpecSchema>;
/**
 * A service of the validated spec. `settings` is what the stack says (the diff and the
 * policies judge that); `roleSettings` is the same parsed by the role's schema, defaults
 * applied, set by `validateSpec` when it checks role settings (the default).
 */
export type ServiceSpec = SchemaOutput["services"][number] & { readonly roleSettings?: AnyRoleSettings };
/** The validated datacenter spec, with defaults applied. */
export type DatacenterSpec = Omit<SchemaOutput, "services"> & { services: ServiceSpec[] };
/** What a user may write in the stack config (defaults optional). */
export type DatacenterSpecInput = z.input<typeof DatacenterSpecSchema>;
export type FeedSpec = DatacenterSpec["feeds"][number];
export type RackSpec = DatacenterSpec["racks"][number];
export type PduSpec = RackSpec["pdus"][number];
export type HostSpec = DatacenterSpec["hosts"][number];
export type PlanSpec = DatacenterSpec["plans"][number];
export type NetworkSpec = DatacenterSpec["networks"][number];
export type CustomerSpec = DatacenterSpec["customers"][number];
