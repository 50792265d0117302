/**
 * The dns role's settings (`services[].settings` in the stack), validated with zod at
 * start-up and exported so `serverpark validate` can check a stack before deploying it.
 * The zones themselves come from the plan; settings only add records and tune the server.
 */
import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";

const LABEL = /^(?:@|\*|[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** A name relative to the datacenter's domain (`www`), `@` for the domain itself, or absolute with a trailing dot. */
const name = z.string().max(253).regex(LABEL, "expected a DNS name: relative (www), @ for the zone apex, or absolute ending in a dot");
const ttl = z.number().int().min(0).max(2_147_483_647).default(300);
const u16 = z.number().int().min(0).max(65535);

/** Extra records, merged into the zone of the plan that contains their name. */
export const extraRecordSchema = z.discriminatedUnion("type", [
  z.strictObject({ name, ttl, type: z.literal("A"), data: z.string().refine((v) => isIPv4(v), "expected an IPv4 address") }),
  z.strictObject({ name, ttl, type: z.literal("AAAA"), data: z.string().refine((v) => isIPv6(v), "expected an IPv6 address") }),
  z.strictObject({ name, ttl, type: z.enum(["CNAME", "NS", "PTR"]), data: name }),
  z.strictObject({ name, ttl, type: z.literal("MX"), data: z.strictObject({ preference: u16, exchange: name }) }),
  z.strictObject({
    name,
    ttl,
    type: z.literal("TXT"),
    data: z.union([z.string().max(255), z.array(z.string().max(255)).min(1)]).transform((v) => (typeof v === "string" ? [v] : v)),
  }),
  z.strictObject({ name, ttl, type: z.literal("SRV"), data: z.strictObject({ priority: u16, weight: u16, port: u16, target: name }) }),
]);
export type ExtraRecord = z.output<typeof extraRecordSchema>;

export const dnsSettingsSchema = z.strictObject({
  /** Records added to the plan's zones (CNAMEs for customer sites, TXT verifications...). @default [] */
  records: z.array(extraRecordSchema).default([]),
  /** Response rate limiting (RRL) against reflection/amplification, per client network (/24, /56) and answer. */
  rrl: z
    .strictObject({
      /** Identical responses per second to one client network before limiting; 0 disables RRL. @default 20 */
      responsesPerSecond: z.number().int().min(0).max(1_000_000).default(20),
      /** Every Nth limited response is sent truncated (TC) so real clients retry over TCP; 0 drops all. @default 2 */
      slip: z.number().int().min(0).max(10).default(2),
      /** Client network prefix the limit applies to (IPv4). @default 24 */
      ipv4PrefixLength: z.number().int().min(8).max(32).default(24),
      /** Client network prefix the limit applies to (IPv6, of the address's 16 bytes; BIND's default). @default 56 */
      ipv6PrefixLength: z.number().int().min(16).max(128).default(56),
    })
    .default({ responsesPerSecond: 20, slip: 2, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }),
  /** Largest UDP response we send, whatever EDNS0 clients offer (1232 avoids IP fragmentation). @default 1232 */
  maxUdpPayload: z.number().int().min(512).max(4096).default(1232),
  /** A TCP connection idle this long is closed. @default 10000 */
  tcpIdleTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** Concurrent TCP connections; more are refused at accept. @default 1000 */
  maxTcpConnections: z.number().int().min(1).max(100_000).default(1000),
});

export type DnsSettings = z.output<typeof dnsSettingsSchema>;
