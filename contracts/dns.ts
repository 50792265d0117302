/**
 * DNS zones as the plan computes them (components/plan/dns.ts) and the dns role serves them
 * (images/dns/src/zones.ts); they travel in the dns replicas' runtime config
 * (contracts/runtimeConfig.ts `zones`).
 */
import { z } from "zod";

export type DnsRecordData =
  | { readonly type: "A" | "AAAA" | "NS" | "CNAME" | "PTR"; readonly data: string }
  | { readonly type: "TXT"; readonly data: readonly string[] }
  | { readonly type: "MX"; readonly data: { readonly preference: number; readonly exchange: string } }
  | { readonly type: "SRV"; readonly data: { readonly priority: number; readonly weight: number; readonly port: number; readonly target: string } }
  | {
      readonly type: "SOA";
      readonly data: {
        readonly mname: string;
        readonly rname: string;
        readonly serial: number;
        readonly refresh: number;
        readonly retry: number;
        readonly expire: number;
        readonly minimum: number;
      };
    };

/** One resource record; names are absolute without the trailing dot (dns-packet style). */
export type DnsRecord = { readonly name: string; readonly ttl: number } & DnsRecordData;

export interface DnsZone {
  readonly origin: string;
  readonly records: readonly DnsRecord[];
}

/**
 * The shape the dns server checks when it reads `zones` from its config. Record data is
 * checked per type by the server's zone loader, which names the bad record.
 */
export const dnsZoneSchema = z.object({
  origin: z.string(),
  records: z.array(z.object({ name: z.string(), ttl: z.number(), type: z.string(), data: z.unknown() })),
});
