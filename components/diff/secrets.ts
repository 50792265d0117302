/**
 * Defence in depth against printing a secret in a pull-request comment. The renderers never
 * print property values from a preview or role settings (only names), so no secret should
 * reach the text at all; this module still collects every value that *looks* secret (by the
 * name it sits under, or Pulumi's own secret markers) and scrubs it from the final text,
 * because free text — a diagnostic or a policy message — can quote a value.
 */

/** Names under which a value is treated as secret. */
export const SECRET_NAME = /pass(word|phrase)?|secret|token|private_?key|api_?key|credential|auth|cookie|session|signing|salt|pem/i;
/** Pulumi's marker for a serialized secret value (`{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", …}`). */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
/** Shorter values are too common to scrub without mangling ordinary words. */
const MIN_LENGTH = 6;

/** Every string that sits under a secret-looking name (or a secret marker) anywhere in `value`. */
export function collectSecrets(value: unknown, out: Set<string> = new Set(), underSecret = false): Set<string> {
  if (typeof value === "string") {
    if (underSecret) add(out, value);
    // `NAME=value` entries (container environments): the name decides.
    const eq = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(value);
    if (eq && SECRET_NAME.test(eq[1]!)) add(out, eq[2]!);
    return out;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectSecrets(v, out, underSecret);
    return out;
  }
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const marked = SECRET_SIG_KEY in obj || "secure" in obj || "ciphertext" in obj;
    for (const [k, v] of Object.entries(obj)) collectSecrets(v, out, underSecret || marked || SECRET_NAME.test(k));
  }
  return out;
}

function add(out: Set<string>, s: string): void {
  if (s.length >= MIN_LENGTH && s !== "[secret]") out.add(s);
}

/** Replaces every occurrence of every secret with `[secret]`; longest first so overlaps go too. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (s.length >= MIN_LENGTH) out = out.split(s).join("[secret]");
  return out;
}
