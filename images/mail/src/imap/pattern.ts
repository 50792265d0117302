/**
 * LIST/LSUB pattern matching (RFC 3501 §6.3.8) in linear time: `*` matches anything, `%`
 * anything but the hierarchy delimiter `/`. A regular expression built from the pattern
 * backtracks exponentially on inputs like `%*%*%*…x`; this runs the pattern as a set of
 * positions (an NFA), so the cost is O(pattern × name) whatever the client sends.
 */

/** True when `name` matches `pattern`, case-insensitively (INBOX is case-insensitive). */
export function matchesListPattern(pattern: string, name: string): boolean {
  const p = pattern.toUpperCase();
  const n = name.toUpperCase();
  // states[i]: the pattern's first i characters can match the name read so far.
  let states = new Uint8Array(p.length + 1);
  const close = (s: Uint8Array): void => {
    // A wildcard may match nothing: a reachable wildcard position also reaches the next one.
    for (let i = 0; i < p.length; i++) if (s[i] && (p[i] === "*" || p[i] === "%")) s[i + 1] = 1;
  };
  states[0] = 1;
  close(states);
  for (const ch of n) {
    const next = new Uint8Array(p.length + 1);
    for (let i = 0; i < p.length; i++) {
      if (!states[i]) continue;
      const pc = p[i];
      if (pc === "*" || (pc === "%" && ch !== "/")) next[i] = 1;
      else if (pc === ch) next[i + 1] = 1;
    }
    close(next);
    states = next;
  }
  return states[p.length] === 1;
}
