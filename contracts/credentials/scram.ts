/**
 * SCRAM-SHA-256 password verifiers in PostgreSQL's stored form (RFC 5802 §3, RFC 7677;
 * PostgreSQL's `pg_authid.rolpassword`):
 *   SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>   (base64 fields)
 * `CREATE ROLE … PASSWORD '<verifier>'` stores it as is, so a server can be given a login
 * without ever seeing the password. Hand-written on node:crypto: it is four hash calls, and
 * the pg client only carries the client side of the exchange.
 */
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";

/** PostgreSQL's default `scram_iterations`. */
export const SCRAM_ITERATIONS = 4096;

export const SCRAM_VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]{43}=):([A-Za-z0-9+/]{43}=)$/;

/**
 * Only printable ASCII: SASLprep (RFC 4013) leaves it unchanged, so no normalisation is
 * needed; other passwords are refused rather than normalised differently from PostgreSQL.
 */
function checkPassword(password: string): void {
  if (!/^[\x21-\x7e]{8,}$/.test(password)) throw new Error("a SCRAM password must be at least 8 printable ASCII characters without spaces");
}

export function scramSha256Verifier(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): string {
  checkPassword(password);
  if (salt.length < 16) throw new Error("a SCRAM salt must be at least 16 bytes");
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Whether `password` is the one `verifier` was made from (recomputes with its salt). */
export function scramVerifierMatches(verifier: string, password: string): boolean {
  const m = SCRAM_VERIFIER.exec(verifier);
  if (!m) return false;
  const again = scramSha256Verifier(password, Buffer.from(m[2]!, "base64"), Number(m[1]));
  return again.length === verifier.length && timingSafeEqual(Buffer.from(again), Buffer.from(verifier));
}
