/**
 * What IMAP FETCH needs from a stored message (RFC 3501 §7.4.2): header fields, ENVELOPE,
 * BODYSTRUCTURE and body sections (`BODY[]`, `BODY[HEADER]`, `BODY[1.2]`, `<partial>`).
 * A small MIME walker rather than a full parser: it reads boundaries and part headers only,
 * which is all these items use; bodies are never decoded.
 */
import { quote } from "./parser";

export interface MimePart {
  readonly header: Buffer;
  readonly body: Buffer;
  readonly fields: Map<string, string>;
  readonly type: string;
  readonly subtype: string;
  readonly params: Map<string, string>;
  readonly children: MimePart[];
}

function splitHeader(raw: Buffer): { header: Buffer; body: Buffer } {
  let end = raw.indexOf("\r\n\r\n");
  let sep = 4;
  if (end < 0) {
    end = raw.indexOf("\n\n");
    sep = 2;
  }
  if (end < 0) return raw.subarray(0, 2).toString() === "\r\n" ? { header: Buffer.alloc(0), body: raw.subarray(2) } : { header: raw, body: Buffer.alloc(0) };
  return { header: raw.subarray(0, end + sep), body: raw.subarray(end + sep) };
}

/** Header fields, unfolded, lower-cased names; the first occurrence wins. */
export function headerFields(header: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  const text = header.toString("utf8").replace(/\r?\n[ \t]+/g, " ");
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  return fields;
}

function parseContentType(value: string | undefined): { type: string; subtype: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  const [full = "text/plain", ...rest] = (value ?? "text/plain").split(";");
  for (const p of rest) {
    const eq = p.indexOf("=");
    if (eq > 0)
      params.set(
        p.slice(0, eq).trim().toLowerCase(),
        p
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, "$1"),
      );
  }
  const [type = "text", subtype = "plain"] = full.trim().toLowerCase().split("/");
  if (!value) params.set("charset", "us-ascii");
  return { type, subtype, params };
}

/** Parses the MIME tree; depth-limited so a hostile message cannot recurse forever. */
export function parseMime(raw: Buffer, depth = 0): MimePart {
  const { header, body } = splitHeader(raw);
  const fields = headerFields(header);
  const { type, subtype, params } = parseContentType(fields.get("content-type"));
  const children: MimePart[] = [];
  const boundary = params.get("boundary");
  if (type === "multipart" && boundary && depth < 10) {
    const delimiter = Buffer.from(`--${boundary}`);
    let pos = body.indexOf(delimiter);
    while (pos >= 0) {
      let start = pos + delimiter.length;
      if (body.subarray(start, start + 2).toString() === "--") break;
      start = body.indexOf("\n", start) + 1;
      if (start === 0) break;
      const next = body.indexOf(delimiter, start);
      if (next < 0) break;
      let end = next;
      if (body[end - 1] === 0x0a) end--;
      if (body[end - 1] === 0x0d) end--;
      children.push(parseMime(body.subarray(start, end), depth + 1));
      pos = next;
    }
  }
  return { header, body, fields, type, subtype, params, children };
}

const lines = (buf: Buffer) => buf.toString("latin1").split("\n").length - 1;
const paramList = (params: Map<string, string>) =>
  params.size === 0 ? "NIL" : `(${[...params].map(([k, v]) => `${quote(k.toUpperCase())} ${quote(v)}`).join(" ")})`;

/** BODYSTRUCTURE (extensible = true) or BODY (false). */
export function bodyStructure(part: MimePart, extensible: boolean): string {
  if (part.children.length > 0) {
    const kids = part.children.map((c) => bodyStructure(c, extensible)).join("");
    return `(${kids} ${quote(part.subtype.toUpperCase())}${extensible ? ` ${paramList(part.params)} NIL NIL` : ""})`;
  }
  const f = part.fields;
  const base = [
    quote(part.type.toUpperCase()),
    quote(part.subtype.toUpperCase()),
    paramList(part.params),
    quote(f.get("content-id")),
    quote(f.get("content-description")),
    quote((f.get("content-transfer-encoding") ?? "7BIT").toUpperCase()),
    String(part.body.length),
  ];
  if (part.type === "text") base.push(String(lines(part.body)));
  if (extensible) base.push("NIL", "NIL", "NIL");
  return `(${base.join(" ")})`;
}

function addressList(value: string | undefined): string {
  if (!value) return "NIL";
  const items = value.match(/(?:"[^"]*"|<[^>]*>|[^,])+/g) ?? [];
  const out = items.map((item) => {
    const angle = /<([^>]*)>/.exec(item);
    const address = (angle ? angle[1]! : item).trim();
    const name = angle
      ? item
          .slice(0, angle.index)
          .trim()
          .replace(/^"(.*)"$/, "$1")
      : "";
    const at = address.lastIndexOf("@");
    const mailbox = at >= 0 ? address.slice(0, at) : address;
    const host = at >= 0 ? address.slice(at + 1) : "";
    return `(${name ? quote(name) : "NIL"} NIL ${quote(mailbox)} ${quote(host)})`;
  });
  return out.length > 0 ? `(${out.join("")})` : "NIL";
}

export function envelope(fields: Map<string, string>): string {
  const from = fields.get("from");
  return `(${[
    quote(fields.get("date")),
    quote(fields.get("subject")),
    addressList(from),
    addressList(fields.get("sender") ?? from),
    addressList(fields.get("reply-to") ?? from),
    addressList(fields.get("to")),
    addressList(fields.get("cc")),
    addressList(fields.get("bcc")),
    quote(fields.get("in-reply-to")),
    quote(fields.get("message-id")),
  ].join(" ")})`;
}

/** The bytes of a body section such as "", "HEADER", "TEXT", "1.2", "HEADER.FIELDS (FROM TO)". */
export function section(raw: Buffer, spec: string): Buffer {
  const m = /^((?:\d+\.)*\d+)?\.?(.*)$/s.exec(spec.trim())!;
  let part = parseMime(raw);
  let bytes = raw;
  if (m[1]) {
    for (const index of m[1].split(".").map(Number)) {
      const child = part.children[index - 1];
      // A non-multipart's part 1 is its own body.
      if (!child) {
        if (index === 1 && part.children.length === 0) continue;
        return Buffer.alloc(0);
      }
      part = child;
    }
    bytes = Buffer.concat([part.header, part.body]);
    if (!m[2]) return part.body;
  }
  const rest = m[2]!.toUpperCase();
  const { header, body } = splitHeader(bytes);
  if (rest === "") return bytes;
  if (rest === "HEADER" || rest === "MIME") return header;
  if (rest === "TEXT") return body;
  const fieldsSpec = /^HEADER\.FIELDS(\.NOT)?\s*\(([^)]*)\)$/.exec(rest);
  if (!fieldsSpec) return Buffer.alloc(0);
  const names = new Set(
    fieldsSpec[2]!
      .trim()
      .split(/\s+/)
      .map((n) => n.toLowerCase()),
  );
  const keep = !fieldsSpec[1];
  const text = header.toString("latin1");
  const kept = (text.match(/^[^\s:][^:\r\n]*:.*(?:\r?\n[ \t].*)*\r?\n/gm) ?? []).filter(
    (line) => names.has(line.slice(0, line.indexOf(":")).trim().toLowerCase()) === keep,
  );
  return Buffer.from(`${kept.join("")}\r\n`, "latin1");
}
