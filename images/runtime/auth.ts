/**
 * One authenticator for every password login of a role — SMTP AUTH, IMAP and POP3 on mail,
 * SFTP and FTP on file: checks a user's password against the credentials file (scrypt
 * hashes, contracts/credentials/scrypt.ts) and rate-limits failed logins per client
 * address, across protocols, so a guesser cannot spread attempts over several ports.
 */
import { neverMatchingHash, verifyPassword } from "../../contracts/credentials/scrypt";

export interface LoginLimit {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly blockMs: number;
}

export type LoginResult = { ok: true; user: string } | { ok: false; reason: "invalid" | "blocked" };

export class Authenticator {
  private readonly failures = new Map<string, { count: number; first: number; blockedUntil: number }>();
  /** Checked for unknown users so timing does not reveal them: the cost of a real user's hash. */
  private readonly dummy: string;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly limit: LoginLimit,
    private readonly now: () => number = Date.now,
  ) {
    this.dummy = neverMatchingHash(users.values().next().value);
  }

  /** Accepts `alice` and `alice@any-local-domain`; the caller checks the domain part. */
  static localPart(username: string): string {
    return username.split("@")[0]!.toLowerCase();
  }

  isBlocked(client: string): boolean {
    const entry = this.failures.get(client);
    return !!entry && entry.blockedUntil > this.now();
  }

  async login(client: string, username: string, password: string): Promise<LoginResult> {
    if (this.isBlocked(client)) return { ok: false, reason: "blocked" };
    // A hosting customer's mailbox logs in with its full address (its key); anyone else by local part.
    const full = username.toLowerCase();
    const user = full.includes("@") && this.users.has(full) ? full : Authenticator.localPart(username);
    const hash = this.users.get(user);
    const ok = await verifyPassword(password, hash ?? this.dummy);
    if (ok && hash) {
      this.failures.delete(client);
      return { ok: true, user };
    }
    this.recordFailure(client);
    return { ok: false, reason: this.isBlocked(client) ? "blocked" : "invalid" };
  }

  private recordFailure(client: string): void {
    const now = this.now();
    let entry = this.failures.get(client);
    if (!entry || now - entry.first > this.limit.windowMs) entry = { count: 0, first: now, blockedUntil: 0 };
    entry.count += 1;
    if (entry.count >= this.limit.maxFailures) entry.blockedUntil = now + this.limit.blockMs;
    this.failures.set(client, entry);
    // Bound memory under a distributed guessing attack: forget the oldest entries.
    if (this.failures.size > 100_000) this.failures.delete(this.failures.keys().next().value!);
  }
}
