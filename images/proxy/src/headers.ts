/**
 * Header rewriting both ways: hop-by-hop headers (and those named in Connection) dropped
 * (RFC 9110 §7.6.1), X-Forwarded-For/-Proto/-Host set by us (a client must not forge them).
 * On the hot path, so each function walks the headers once or twice and allocates only its
 * result.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";

export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
/**
 * Request headers never passed upstream as the client sent them: hop-by-hop ones, the
 * forwarding headers we set ourselves (a client must not forge them), and Expect (node:http
 * has already answered the client's 100-continue).
 */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "expect"]);

/** Lower-cased header names listed in a Connection header (they are hop-by-hop for this message). */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const listed = new Set<string>();
  for (const token of (Array.isArray(value) ? value.join(",") : value).toLowerCase().split(",")) listed.add(token.trim());
  return listed;
}

/** Request headers for the upstream as an object (the WebSocket handshake): hop-by-hop removed, forwarding headers added. */
export function forwardHeaders(req: IncomingMessage, tls: boolean, client: string, keepUpgrade = false): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = connectionListed(req.headers.connection);
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || ((HOP_BY_HOP.has(name) || listed?.has(name)) && !(keepUpgrade && name === "upgrade"))) continue;
    out[name] = value;
  }
  const prior = req.headers["x-forwarded-for"];
  out["x-forwarded-for"] = prior ? `${Array.isArray(prior) ? prior.join(", ") : prior}, ${client}` : client;
  out["x-forwarded-proto"] = tls ? "https" : "http";
  if (req.headers.host) out["x-forwarded-host"] = req.headers.host;
  if (keepUpgrade) out.connection = "Upgrade";
  return out;
}

/**
 * The same for a plain request, from the raw header lines (names as the client spelled
 * them, repeated lines kept) into the flat [name, value, ...] list undici takes. `client` is
 * the client's address (the PROXY header's, when a balancer sent one).
 */
export function upstreamHeaders(req: IncomingMessage, tls: boolean, client: string): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  const lower: string[] = new Array<string>(raw.length >> 1);
  let listed: Set<string> | undefined;
  let host: string | undefined;
  let prior: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (lower[i >> 1] = raw[i]!.toLowerCase());
    if (name === "connection") listed = connectionListed(raw[i + 1]);
    else if (name === "host") host = raw[i + 1];
    else if (name === "x-forwarded-for") prior = prior === undefined ? raw[i + 1] : `${prior}, ${raw[i + 1]}`;
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = lower[i >> 1]!;
    if (NOT_FORWARDED.has(name) || listed?.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  out.push("x-forwarded-for", prior ? `${prior}, ${client}` : client, "x-forwarded-proto", tls ? "https" : "http");
  if (host) out.push("x-forwarded-host", host);
  return out;
}

/** An upstream's (or the cache's) response headers for the client, hop-by-hop ones removed. */
export function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = connectionListed(headers.connection);
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && !listed?.has(name)) out[name] = value;
  }
  return out;
}
