/** IMAP FETCH (RFC 3501 §6.4.5): which data items were asked for, and their rendering. */
import type { StoredMessage } from "../store";
import { bodyStructure, envelope, headerFields, parseMime, section } from "./message";
import { ImapSyntaxError, type Token } from "./parser";

export interface FetchItem {
  readonly name: string;
  /** For BODY[...] items: the section spec, partial range, and whether \Seen is set. */
  readonly section?: string;
  readonly partial?: readonly [number, number | undefined];
  readonly setsSeen?: boolean;
}

const SIMPLE = new Set(["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT"]);
const MACROS: Record<string, string[]> = {
  ALL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
  FAST: ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
  FULL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
};

export function parseFetchItems(token: Token | undefined): FetchItem[] {
  if (!token) throw new ImapSyntaxError("missing fetch items");
  const atoms = token.type === "list" ? token.items : [token];
  const items: FetchItem[] = [];
  for (const t of atoms) {
    if (t.type !== "atom") throw new ImapSyntaxError("bad fetch item");
    const upper = t.value.toUpperCase();
    if (MACROS[upper] && token.type !== "list") {
      items.push(...MACROS[upper]!.map((name) => ({ name })));
      continue;
    }
    if (SIMPLE.has(upper)) {
      items.push({ name: upper, setsSeen: upper === "RFC822" || upper === "RFC822.TEXT" });
      continue;
    }
    const body = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?$/i.exec(t.value);
    if (!body) throw new ImapSyntaxError(`unknown fetch item ${t.value.slice(0, 40)}`);
    const kind = body[1]!.toUpperCase();
    items.push({
      name: kind.startsWith("BINARY") ? "BINARY" : "BODY",
      section: body[2]!,
      partial: body[3] !== undefined ? [Number(body[3]), body[4] !== undefined ? Number(body[4]) : undefined] : undefined,
      setsSeen: !kind.endsWith(".PEEK"),
    });
  }
  return items;
}

export function needsContent(items: readonly FetchItem[]): boolean {
  return items.some((i) => !["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE"].includes(i.name));
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
export function imapDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

const literal = (buf: Buffer) => `{${buf.length}}\r\n${buf.toString("latin1")}`;
export const flagList = (flags: Iterable<string>) => `(${[...flags].join(" ")})`;

/** Renders one message's FETCH attributes (latin1 text; literals carry raw bytes). */
export function renderFetch(message: StoredMessage, items: readonly FetchItem[], raw: Buffer | undefined): string {
  const out: string[] = [];
  for (const item of items) {
    switch (item.name) {
      case "UID":
        out.push(`UID ${message.uid}`);
        break;
      case "FLAGS":
        out.push(`FLAGS ${flagList(message.flags)}`);
        break;
      case "INTERNALDATE":
        out.push(`INTERNALDATE "${imapDate(message.internalDate)}"`);
        break;
      case "RFC822.SIZE":
        out.push(`RFC822.SIZE ${message.size}`);
        break;
      case "ENVELOPE":
        out.push(`ENVELOPE ${envelope(headerFields(section(raw!, "HEADER")))}`);
        break;
      case "BODYSTRUCTURE":
        out.push(`BODYSTRUCTURE ${bodyStructure(parseMime(raw!), true)}`);
        break;
      case "BODY":
        if (item.section === undefined) out.push(`BODY ${bodyStructure(parseMime(raw!), false)}`);
        else {
          let bytes = section(raw!, item.section);
          let suffix = "";
          if (item.partial) {
            const [start, length] = item.partial;
            bytes = bytes.subarray(start, length === undefined ? undefined : start + length);
            suffix = `<${start}>`;
          }
          out.push(`BODY[${item.section}]${suffix} ${literal(bytes)}`);
        }
        break;
      case "BINARY":
        out.push(`BINARY[${item.section}] ${literal(section(raw!, item.section ?? ""))}`);
        break;
      case "RFC822":
        out.push(`RFC822 ${literal(raw!)}`);
        break;
      case "RFC822.HEADER":
        out.push(`RFC822.HEADER ${literal(section(raw!, "HEADER"))}`);
        break;
      case "RFC822.TEXT":
        out.push(`RFC822.TEXT ${literal(section(raw!, "TEXT"))}`);
        break;
    }
  }
  return out.join(" ");
}
