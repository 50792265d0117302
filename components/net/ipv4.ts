/**
 * IPv4 arithmetic for planning. Hand-written because the planner needs only a handful of
 * pure operations (parse, contains, overlap, nth address) and the npm CIDR libraries either
 * pull in Node's `net`/Buffer or allocate per call; this keeps the planner dependency-free.
 */

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  readonly base: number;
  readonly prefix: number;
  /** Number of addresses in the block (including network and broadcast). */
  readonly size: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIp(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIp(value: number): string {
  // Whole addresses (every caller's case; the planner formats one per member) without arrays.
  if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses "a.b.c.d/n"; the address must be the network address (no host bits set). */
export function parseCidr(text: string): Cidr | { error: string } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return { error: `"${text}" is not in CIDR notation (expected e.g. 10.42.1.0/24)` };
  const ip = parseIp(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined) return { error: `"${m[1]}" is not an IPv4 address` };
  if (prefix < 8 || prefix > 29) return { error: `prefix /${prefix} is out of range (expected /8 to /29)` };
  const size = 2 ** (32 - prefix);
  if (ip % size !== 0) {
    return { error: `"${text}" has host bits set (did you mean ${formatIp(ip - (ip % size))}/${prefix}?)` };
  }
  return { base: ip, prefix, size };
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.base && ip < cidr.base + cidr.size;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.base)}/${cidr.prefix}`;
}

/** The address at offset `n` inside the block. */
export function nthAddress(cidr: Cidr, n: number): string {
  return formatIp(cidr.base + n);
}
