/**
 * IMAP command syntax (RFC 3501 §9), hand-written because no maintained IMAP server library
 * was found on npm when the mail role was written (the IMAP server packages there are
 * unmaintained or client-only): splitting the byte stream into commands with their
 * literals, and tokenizing a command into atoms, strings and lists.
 */

export type Token =
  { readonly type: "atom"; readonly value: string } | { readonly type: "string"; readonly value: Buffer } | { readonly type: "list"; readonly items: Token[] };

/** A protocol error for one command: answered `BAD`, the connection stays up. */
export class ImapSyntaxError extends Error {}

/** Longest command line (without literals) we accept; longer lines are a protocol error. */
export const MAX_LINE = 16 * 1024;
/** All lines of one command together (a command with literals spans several lines). */
export const MAX_COMMAND_TEXT = 64 * 1024;
/** Literals in one command. */
export const MAX_LITERALS = 64;

export interface RawCommand {
  /** The command text, each literal replaced by a NUL byte (NUL is illegal in IMAP text). */
  readonly text: string;
  readonly literals: Buffer[];
}

const EMPTY = Buffer.alloc(0);

/**
 * Collects bytes into complete commands. `onLiteral` is told when a synchronising literal
 * `{n}` needs a `+` continuation. Memory per connection is bounded: `maxLiteralBytes` (read
 * for every literal, so it can grow after login) bounds each literal, and one command's
 * literals together (chained or not) to it plus min(it, MAX_COMMAND_TEXT); the command's
 * text is bounded by MAX_COMMAND_TEXT. Every input byte is copied
 * a bounded number of times (a literal once, when complete), never once per chunk.
 */
export class CommandReader {
  /** An incomplete line (at most MAX_LINE bytes). */
  private line: Buffer = EMPTY;
  private parts: string[] = [];
  private textBytes = 0;
  private literals: Buffer[] = [];
  private literalBytes = 0;
  /** Pieces of the literal being read, and how many bytes it still needs (-1: none). */
  private chunks: Buffer[] = [];
  private need = -1;
  private readonly maxLiteralBytes: () => number;

  constructor(
    maxLiteralBytes: number | (() => number),
    private readonly onLiteral: (size: number) => void,
  ) {
    this.maxLiteralBytes = typeof maxLiteralBytes === "number" ? () => maxLiteralBytes : maxLiteralBytes;
  }

  /** Feeds data; returns complete commands, or throws ImapSyntaxError for an unusable stream. */
  push(chunk: Buffer): RawCommand[] {
    const out: RawCommand[] = [];
    let data = chunk;
    for (;;) {
      if (this.need >= 0) {
        const take = Math.min(this.need, data.length);
        if (take > 0) {
          this.chunks.push(data.subarray(0, take));
          this.need -= take;
          data = data.subarray(take);
        }
        if (this.need > 0) return out;
        this.literals.push(Buffer.concat(this.chunks)); // one copy, which also frees the input chunks
        this.chunks = [];
        this.need = -1;
      }
      if (this.line.length > 0) {
        data = Buffer.concat([this.line, data]);
        this.line = EMPTY;
      }
      const eol = data.indexOf("\r\n");
      if (eol < 0) {
        if (data.length > MAX_LINE) this.fail("line too long");
        this.line = Buffer.from(data); // a copy: do not pin a large input chunk
        return out;
      }
      if (eol > MAX_LINE) this.fail("line too long");
      const line = data.subarray(0, eol).toString("latin1");
      data = data.subarray(eol + 2);
      this.textBytes += line.length;
      if (this.textBytes > MAX_COMMAND_TEXT) this.fail("command too long");
      const literal = /\{(\d{1,10})(\+?)\}$/.exec(line);
      if (literal) {
        const size = Number(literal[1]);
        const allowed = this.maxLiteralBytes();
        if (size > allowed) this.fail(`literal of ${size} bytes is too large (at most ${allowed} now)`);
        // Besides the one big literal (APPEND's message), a command's other literals are small.
        if (this.literalBytes + size > allowed + Math.min(allowed, MAX_COMMAND_TEXT))
          this.fail(`literals of ${this.literalBytes + size} bytes in one command are too large`);
        if (this.literals.length >= MAX_LITERALS) this.fail("too many literals in one command");
        this.literalBytes += size;
        this.parts.push(line.slice(0, literal.index) + "\0");
        this.need = size;
        if (!literal[2]) this.onLiteral(size);
        continue;
      }
      this.parts.push(line);
      out.push({ text: this.parts.join(""), literals: this.literals });
      this.reset();
    }
  }

  private reset(): void {
    this.parts = [];
    this.textBytes = 0;
    this.literals = [];
    this.literalBytes = 0;
  }

  private fail(message: string): never {
    // The rest of the stream cannot be framed reliably; the caller closes the connection.
    this.line = EMPTY;
    this.chunks = [];
    this.need = -1;
    this.reset();
    throw new ImapSyntaxError(message);
  }
}

const ATOM_END = new Set([" ", "(", ")", "\0", '"']);

/** Tokenizes a command's text (after tag and name) into a flat list of top-level tokens. */
export function tokenize(text: string, literals: readonly Buffer[]): Token[] {
  let pos = 0;
  let literal = 0;
  const parseList = (closing: string | undefined): Token[] => {
    const items: Token[] = [];
    for (;;) {
      while (text[pos] === " ") pos++;
      if (pos >= text.length) {
        if (closing) throw new ImapSyntaxError("unterminated list");
        return items;
      }
      const ch = text[pos]!;
      if (ch === ")") {
        if (closing !== ")") throw new ImapSyntaxError("unexpected )");
        pos++;
        return items;
      }
      if (ch === "(") {
        pos++;
        items.push({ type: "list", items: parseList(")") });
      } else if (ch === "\0") {
        pos++;
        const value = literals[literal++];
        if (!value) throw new ImapSyntaxError("missing literal");
        items.push({ type: "string", value });
      } else if (ch === '"') {
        items.push({ type: "string", value: Buffer.from(readQuoted(), "latin1") });
      } else {
        items.push({ type: "atom", value: readAtom() });
      }
    }
  };
  const readQuoted = (): string => {
    let out = "";
    pos++;
    while (pos < text.length) {
      const ch = text[pos++]!;
      if (ch === '"') return out;
      if (ch === "\\") {
        const next = text[pos++];
        if (next !== '"' && next !== "\\") throw new ImapSyntaxError("bad escape in quoted string");
        out += next;
      } else out += ch;
    }
    throw new ImapSyntaxError("unterminated quoted string");
  };
  const readAtom = (): string => {
    const start = pos;
    let depth = 0;
    while (pos < text.length) {
      const ch = text[pos]!;
      if (ch === "[") depth++;
      else if (ch === "]") depth--;
      else if (depth === 0 && ATOM_END.has(ch)) break;
      else if (ch === "\0") throw new ImapSyntaxError("literal inside an atom");
      pos++;
    }
    if (depth !== 0) throw new ImapSyntaxError("unbalanced [ ]");
    if (pos === start) throw new ImapSyntaxError("empty atom");
    return text.slice(start, pos);
  };
  return parseList(undefined);
}

/** A token's text: atoms as they are, strings decoded as UTF-8. */
export function asString(token: Token | undefined, what: string): string {
  if (!token || token.type === "list") throw new ImapSyntaxError(`expected ${what}`);
  return token.type === "atom" ? token.value : token.value.toString("utf8");
}

/** Encodes a value as an IMAP string: quoted when safe, a literal otherwise. */
export function quote(value: string | Buffer | undefined | null): string {
  if (value === undefined || value === null) return "NIL";
  const text = typeof value === "string" ? value : value.toString("latin1");
  if (/^[\x20-\x7e]*$/.test(text) && text.length < 1024) return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  return `{${bytes.length}}\r\n${bytes.toString("latin1")}`;
}

/** Parses a sequence set (`1:3,5,7:*`) into a predicate over numbers; `max` stands for `*`. */
export function parseSequenceSet(text: string, max: number): (n: number) => boolean {
  if (!/^[\d*:,]+$/.test(text)) throw new ImapSyntaxError(`bad sequence set ${text.slice(0, 40)}`);
  const ranges = text.split(",").map((part) => {
    const [a, b = a] = part.split(":");
    const num = (s: string | undefined) => {
      if (s === "*") return max;
      if (!s || !/^\d+$/.test(s) || Number(s) === 0) throw new ImapSyntaxError(`bad sequence number ${String(s)}`);
      return Number(s);
    };
    const x = num(a);
    const y = num(b);
    return [Math.min(x, y), Math.max(x, y)] as const;
  });
  return (n) => ranges.some(([lo, hi]) => n >= lo && n <= hi);
}
