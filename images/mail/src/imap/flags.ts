/**
 * Flags a client may set (APPEND, STORE): the five settable system flags of RFC 3501 §2.3.2
 * (any case; stored in their canonical spelling) and keywords, which are atoms (ATOM-CHAR:
 * no space, control, `( ) { % * " \ ]`) that do not start with a backslash. \Recent is set
 * by the server only, and unknown system flags are refused, so nothing invented is stored.
 */
import { ImapSyntaxError, type Token } from "./parser";

const SYSTEM = new Map(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"].map((f) => [f.toLowerCase(), f]));
const KEYWORD = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]{1,64}$/;
/** Flags in one command. */
const MAX_FLAGS = 64;

/** The flags as stored, or ImapSyntaxError (answered BAD) for anything that is not one. */
export function validateFlags(tokens: readonly Token[]): string[] {
  if (tokens.length > MAX_FLAGS) throw new ImapSyntaxError("too many flags");
  return tokens.map((token) => {
    if (token.type !== "atom") throw new ImapSyntaxError("a flag is an atom");
    const flag = token.value;
    if (flag.startsWith("\\")) {
      const known = SYSTEM.get(flag.toLowerCase());
      if (!known) throw new ImapSyntaxError(`${flag.slice(0, 20)} is not a flag a client may set`);
      return known;
    }
    if (!KEYWORD.test(flag)) throw new ImapSyntaxError(`bad keyword ${flag.slice(0, 20)}`);
    return flag;
  });
}
