/**
 * The IMAP pieces that bound a client's cost, in-process: LIST pattern matching (RFC 3501
 * wildcards, linear time), flag validation, and the command reader's literal bounds and
 * framing when the bytes arrive one at a time.
 */
import { describe, expect, it } from "vitest";
import { validateFlags } from "../../images/mail/src/imap/flags";
import { CommandReader, ImapSyntaxError, tokenize } from "../../images/mail/src/imap/parser";
import { matchesListPattern } from "../../images/mail/src/imap/pattern";

describe("LIST patterns", () => {
  it.each([
    ["*", "INBOX", true],
    ["%", "INBOX", true],
    ["inbox", "INBOX", true],
    ["IN%", "INBOX", true],
    ["I*X", "INBOX", true],
    ["%/%", "INBOX", false],
    ["*/*", "INBOX", false],
    ["%", "a/b", false],
    ["*", "a/b", true],
    ["a/%", "a/b", true],
    ["INBOX.", "INBOX", false],
    ["", "INBOX", false],
    ["%*".repeat(80) + "Q", "INBOX", false],
    ["%*".repeat(80) + "X", "INBOX", true],
  ])("%s against %s is %s", (pattern, name, expected) => {
    expect(matchesListPattern(pattern, name)).toBe(expected);
  });
});

describe("flags", () => {
  const flags = (text: string) => validateFlags(tokenize(text, []));
  it("keeps system flags (canonical case) and keywords", () => {
    expect(flags("\\seen \\FLAGGED $Label1 Junk")).toEqual(["\\Seen", "\\Flagged", "$Label1", "Junk"]);
  });
  it.each(["\\Recent", "\\Bogus", '"quoted"', "(\\Seen)", "a]b"])("refuses %s", (text) => {
    expect(() => flags(text)).toThrow(ImapSyntaxError);
  });
});

describe("CommandReader", () => {
  const feedByteByByte = (reader: CommandReader, text: string) => {
    const out = [];
    for (const byte of Buffer.from(text, "latin1")) out.push(...reader.push(Buffer.from([byte])));
    return out;
  };

  it("frames commands and literals that arrive one byte at a time", () => {
    const continued: number[] = [];
    const reader = new CommandReader(100, (n) => continued.push(n));
    const commands = feedByteByByte(reader, "a LOGIN {5}\r\nalice {3+}\r\npw!\r\nb NOOP\r\n");
    expect(commands.map((c) => c.text)).toEqual(["a LOGIN \0 \0", "b NOOP"]);
    expect(commands[0]!.literals.map((l) => l.toString())).toEqual(["alice", "pw!"]);
    expect(continued).toEqual([5]);
  });

  it("reads the bound for every literal, so it can grow after login", () => {
    let bound = 10;
    const reader = new CommandReader(
      () => bound,
      () => undefined,
    );
    expect(() => reader.push(Buffer.from("a LOGIN {11}\r\n"))).toThrow(/too large/);
    bound = 100;
    expect(reader.push(Buffer.from("b APPEND INBOX {11}\r\nhello world\r\n"))).toHaveLength(1);
  });

  it("bounds chained literals together, not only each one", () => {
    const reader = new CommandReader(1000, () => undefined);
    const chunk = Buffer.alloc(900, "x");
    expect(() => {
      for (let i = 0; i < 5; i++) reader.push(Buffer.concat([Buffer.from(i === 0 ? "a X {900+}\r\n" : " {900+}\r\n"), chunk]));
    }).toThrow(/too large/);
  });
});
