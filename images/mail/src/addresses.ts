/**
 * Strict envelope address checks. smtp-server already splits the command, but anything it
 * lets through reaches file names and logs, so we accept only the plain dot-atom form
 * (no quoted local parts, no source routes, no shell or header metacharacters).
 */
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export interface ParsedAddress {
  readonly local: string;
  readonly domain: string;
}

/** `alice@Example.org` -> { local: "alice", domain: "example.org" }, or undefined when malformed. */
export function parseAddress(address: string): ParsedAddress | undefined {
  if (address.length > 254) return undefined;
  const at = address.lastIndexOf("@");
  if (at <= 0 || at > 64) return undefined;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!LOCAL.test(local) || !DOMAIN.test(domain)) return undefined;
  return { local, domain: domain.toLowerCase() };
}

/**
 * The mailbox an address names: a local part (`alice`) on the datacenter's own domains, the
 * full lower-case address (`info@example.org`) on a hosting customer's domain, undefined for
 * any other domain (remote). Whether that mailbox exists is the store's answer.
 */
export function mailboxOf(address: ParsedAddress, ownDomains: ReadonlySet<string>, customerDomains: ReadonlySet<string>): string | undefined {
  const local = address.local.toLowerCase();
  if (ownDomains.has(address.domain)) return local;
  if (customerDomains.has(address.domain)) return `${local}@${address.domain}`;
  return undefined;
}
