/**
 * Passwords are kept only as scrypt hashes (`scrypt$N$r$p$salt$hash`, base64): slow to
 * brute-force, built into Node (no native dependency), and produced the same way by the
 * deployment hook (components/roles/mail.ts) so the server never sees a plain password at
 * rest. Comparison is constant-time.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from "node:crypto";

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** For passwords people choose: slow enough that guessing from a stolen hash is expensive. */
const PARAMS: ScryptParams = { N: 16384, r: 8, p: 1 };

/**
 * For passwords the deployment generates (random.RandomPassword, 24 letters and digits: ~143
 * bits): no work factor makes guessing that space any less hopeless, so the cost only buys
 * CPU — the program's, which hashes every generated password on every run, and the server's,
 * which pays it per login attempt, a lever for anyone trying logins. 1,024 keeps scrypt's
 * construction at 1/16 of the cost (like storing a fast hash of a random API token).
 */
export const GENERATED_PASSWORD_PARAMS: ScryptParams = { N: 1024, r: 8, p: 1 };
const KEYLEN = 32;

/** Hashes `password`; `salt` is injectable so a deployment can produce a stable hash. */
export function hashPassword(password: string, salt: Buffer = randomBytes(16), params: ScryptParams = PARAMS): string {
  const hash = scryptSync(password, salt, KEYLEN, { ...params, maxmem: 64 * 1024 * 1024 });
  return ["scrypt", params.N, params.r, params.p, salt.toString("base64"), hash.toString("base64")].join("$");
}

/**
 * A hash that never matches, with the same parameters as `like` (so checking it costs what a
 * real user's check costs, and timing does not tell unknown users from known ones).
 */
export function neverMatchingHash(like?: string): string {
  const parts = like?.split("$");
  const [N, r, p] = parts?.length === 6 && parts[0] === "scrypt" ? parts.slice(1, 4) : [PARAMS.N, PARAMS.r, PARAMS.p].map(String);
  return ["scrypt", N, r, p, Buffer.alloc(16).toString("base64"), Buffer.alloc(KEYLEN).toString("base64")].join("$");
}

function scryptAsync(password: string, salt: Buffer, len: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

/** True when `password` matches `stored`; a malformed hash never matches. Runs off the event loop. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (!N || !r || !p || N > 1 << 20) return false;
  const salt = Buffer.from(parts[4]!, "base64");
  const expected = Buffer.from(parts[5]!, "base64");
  if (expected.length < 16) return false;
  const actual = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return timingSafeEqual(actual, expected);
}
