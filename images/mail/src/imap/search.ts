/** IMAP SEARCH keys (RFC 3501 §6.4.4), the subset real clients send, as a predicate. */
import type { StoredMessage } from "../store";
import { headerFields } from "./message";
import { asString, ImapSyntaxError, parseSequenceSet, type Token } from "./parser";

export interface SearchContext {
  readonly seq: number;
  readonly message: StoredMessage;
  readonly maxSeq: number;
  readonly maxUid: number;
  /** Loaded lazily: only text keys need the message bytes. */
  readonly raw: () => Promise<Buffer>;
}

type Matcher = (ctx: SearchContext) => Promise<boolean>;

const FLAG_KEYS: Record<string, [string, boolean]> = {
  SEEN: ["\\Seen", true],
  UNSEEN: ["\\Seen", false],
  FLAGGED: ["\\Flagged", true],
  UNFLAGGED: ["\\Flagged", false],
  DELETED: ["\\Deleted", true],
  UNDELETED: ["\\Deleted", false],
  ANSWERED: ["\\Answered", true],
  UNANSWERED: ["\\Answered", false],
  DRAFT: ["\\Draft", true],
  UNDRAFT: ["\\Draft", false],
};

function day(text: string): number {
  const ms = Date.parse(`${text} 00:00:00 UTC`);
  if (Number.isNaN(ms)) throw new ImapSyntaxError(`bad date ${text}`);
  return ms;
}
const startOfDay = (d: Date) => Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());

/** Compiles the keys (implicitly ANDed) into one matcher. */
export function compileSearch(tokens: Token[]): Matcher {
  let i = 0;
  const next = (): Token => {
    const t = tokens[i++];
    if (!t) throw new ImapSyntaxError("incomplete search");
    return t;
  };
  const one = (): Matcher => {
    const t = next();
    if (t.type === "list") {
      const inner = compileSearch(t.items);
      return inner;
    }
    const key = asString(t, "search key").toUpperCase();
    if (key in FLAG_KEYS) {
      const [flag, want] = FLAG_KEYS[key]!;
      return async (c) => c.message.flags.has(flag) === want;
    }
    const text = (field: string | null) => {
      const needle = asString(next(), "search string").toLowerCase();
      return async (c: SearchContext) => {
        const raw = await c.raw();
        if (field === null) return raw.toString("utf8").toLowerCase().includes(needle);
        if (field === "body")
          return raw
            .subarray(Math.max(0, raw.indexOf("\r\n\r\n")))
            .toString("utf8")
            .toLowerCase()
            .includes(needle);
        return (headerFields(raw.subarray(0, Math.max(0, raw.indexOf("\r\n\r\n")) + 2)).get(field) ?? "").toLowerCase().includes(needle);
      };
    };
    switch (key) {
      case "ALL":
      case "RECENT":
      case "OLD":
      case "NEW":
        return async () => key !== "RECENT" && key !== "NEW";
      case "FROM":
      case "TO":
      case "CC":
      case "BCC":
      case "SUBJECT":
        return text(key.toLowerCase());
      case "BODY":
        return text("body");
      case "TEXT":
        return text(null);
      case "HEADER": {
        const field = asString(next(), "header name").toLowerCase();
        return text(field);
      }
      case "KEYWORD":
      case "UNKEYWORD": {
        const flag = asString(next(), "keyword");
        return async (c) => c.message.flags.has(flag) === (key === "KEYWORD");
      }
      case "LARGER":
      case "SMALLER": {
        const n = Number(asString(next(), "size"));
        return async (c) => (key === "LARGER" ? c.message.size > n : c.message.size < n);
      }
      case "SINCE":
      case "BEFORE":
      case "ON":
      case "SENTSINCE":
      case "SENTBEFORE":
      case "SENTON": {
        const d = day(asString(next(), "date"));
        const base = key.replace("SENT", "");
        return async (c) => {
          const t = startOfDay(c.message.internalDate);
          return base === "SINCE" ? t >= d : base === "BEFORE" ? t < d : t === d;
        };
      }
      case "UID": {
        const set = asString(next(), "uid set");
        return async (c) => parseSequenceSet(set, c.maxUid)(c.message.uid);
      }
      case "NOT": {
        const inner = one();
        return async (c) => !(await inner(c));
      }
      case "OR": {
        const a = one();
        const b = one();
        return async (c) => (await a(c)) || (await b(c));
      }
      case "CHARSET":
        next();
        return async () => true;
      default:
        if (/^[\d*:,]+$/.test(key)) return async (c) => parseSequenceSet(key, c.maxSeq)(c.seq);
        throw new ImapSyntaxError(`unknown search key ${key.slice(0, 30)}`);
    }
  };
  const all: Matcher[] = [];
  while (i < tokens.length) all.push(one());
  if (all.length === 0) throw new ImapSyntaxError("empty search");
  return async (c) => {
    for (const m of all) if (!(await m(c))) return false;
    return true;
  };
}
