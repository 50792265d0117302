/**
 * Walking role settings (free-form JSON from the stack config) for keys the policies care
 * about: secrets, TLS versions, plaintext-auth switches. Paths come back in the config
 * notation users see in errors (`settings.users[0].password`).
 */

export interface Found {
  readonly path: string;
  readonly key: string;
  readonly value: unknown;
}

/** Pulumi's marker for a value not known until the update (what CrossGuard's proxy throws on). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * The plain object behind CrossGuard's unknown-checking proxy. Walking *every* property of a
 * resource through the proxy would throw on the first value that is unknown during preview
 * (a generated key, a computed file), although that value is not what a walk is looking for.
 */
export function unproxied<T>(value: T): T {
  const target = value !== null && typeof value === "object" ? (value as { __getSpecialProxyTarget?: T }).__getSpecialProxyTarget : undefined;
  return target ?? value;
}

/** Every leaf (and object) under `value` whose key `matches`; unknown values are skipped. */
export function findKeys(value: unknown, matches: (key: string) => boolean, prefix = ""): Found[] {
  value = unproxied(value);
  const out: Found[] = [];
  const walk = (v: unknown, path: string, depth: number) => {
    if (depth > 32 || v === null || typeof v !== "object") return;
    if (Array.isArray(v)) return v.forEach((item, i) => walk(item, `${path}[${i}]`, depth + 1));
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      const p = path === "" ? k : `${path}.${k}`;
      if (child === UNKNOWN) continue;
      if (matches(k)) out.push({ path: p, key: k, value: child });
      walk(child, p, depth + 1);
    }
  };
  walk(value, prefix, 0);
  return out;
}

/** Key names that hold credentials. `passwordFile`, `secretRef`, `keyPath` name where a secret lives, not the secret. */
const SECRET_WORD = "(pass(word|wd|phrase)?|secret|token|api[-_]?key|private[-_]?key|credentials?)";
/** `password`, `db_password`, `smtp-pass`, `adminPassword`, `apiKey` — but not `bypass` or `passwordFile`. */
const WHOLE = new RegExp(`^(.*[-_.])?${SECRET_WORD}$`, "i");
const CAMEL = /[a-z0-9](Pass(word|wd|phrase)?|Secret|Token|Api[-_]?Key|PrivateKey|Credentials?)$/;
export const isSecretKey = (key: string): boolean => WHOLE.test(key) || CAMEL.test(key);

/** Values nobody may use as a password: empty, vendor defaults and the usual guesses. */
export const DEFAULT_PASSWORDS = new Set(
  [
    "",
    "admin",
    "administrator",
    "root",
    "toor",
    "password",
    "passw0rd",
    "changeme",
    "change-me",
    "default",
    "secret",
    "postgres",
    "mysql",
    "guest",
    "test",
    "user",
    "123456",
    "12345678",
    "letmein",
    "serverpark",
  ].map((s) => s.toLowerCase()),
);

export function isDefaultPassword(value: unknown): boolean {
  return typeof value === "string" && DEFAULT_PASSWORDS.has(value.trim().toLowerCase());
}
