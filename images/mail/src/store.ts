/**
 * Durable mailboxes: one folder per user on the data volume (INBOX; the user's other
 * folders are mailboxes of the same kind below it, see ./account.ts).
 *
 *   <root>/<user>/tmp/          messages being written (never visible, removed at start-up)
 *   <root>/<user>/msg/<uid>     one file per delivered message, immutable once there
 *   <root>/<user>/state.json    UIDVALIDITY, UIDNEXT and flags, replaced atomically
 *
 * `deliver` resolves only after the message's bytes AND its final name are fsynced, so an
 * SMTP 250 sent after it can never be lost, and a crash at any moment leaves either no
 * file or a complete one. Renames are group-committed per mailbox (one directory fsync for
 * every message that arrived meanwhile) and published in UID order, so IMAP clients never
 * see a lower UID appear after a higher one.
 */
import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import { readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir, mkdirDurably, replaceFileDurably, writeSynced } from "./durable";
import { Account } from "./account";
import { Quota, QuotaExceededError } from "./quota";

export interface StoredMessage {
  readonly uid: number;
  readonly size: number;
  readonly internalDate: Date;
  readonly flags: Set<string>;
}

interface MailboxState {
  uidValidity: number;
  uidNext: number;
  flags: Record<string, string[]>;
}

interface Pending {
  readonly tmp: string;
  readonly size: number;
  readonly resolve: (uid: number) => void;
  readonly reject: (error: Error) => void;
}

/** The flags a client may set; \Recent is session-specific and never stored. */
export const PERMANENT_FLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"] as const;

export class Mailbox extends EventEmitter {
  /** Sorted by UID. */
  readonly messages: StoredMessage[] = [];
  private pending: Pending[] = [];
  private committing = false;
  private stateWrite: Promise<void> = Promise.resolve();

  private constructor(
    readonly user: string,
    private dir: string,
    public uidValidity: number,
    public uidNext: number,
    /** The quota of the user's whole account, shared by all of its folders (./quota.ts). */
    readonly quota: Quota,
  ) {
    super();
    this.setMaxListeners(0);
  }

  private get msgDir(): string {
    return join(this.dir, "msg");
  }
  private get tmpDir(): string {
    return join(this.dir, "tmp");
  }

  /** Where the folder lives now (RENAME moves it; sessions keep the same object). */
  relocate(dir: string): void {
    this.dir = dir;
  }

  /** Bytes of all messages. */
  get bytes(): number {
    return this.messages.reduce((sum, m) => sum + m.size, 0);
  }

  static async open(user: string, dir: string, quota = new Quota(user)): Promise<Mailbox> {
    await mkdirDurably(join(dir, "msg"));
    // Anything in tmp/ was never acknowledged to a client: drop it.
    await rm(join(dir, "tmp"), { recursive: true, force: true });
    await mkdirDurably(join(dir, "tmp"));
    let state: MailboxState = { uidValidity: Math.floor(Date.now() / 1000), uidNext: 1, flags: {} };
    let text: string | undefined;
    try {
      text = await readFile(join(dir, "state.json"), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (text !== undefined) state = parseState(user, text);
    const uids = (await readdir(join(dir, "msg")))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
    const box = new Mailbox(user, dir, state.uidValidity, Math.max(state.uidNext, (uids.at(-1) ?? 0) + 1), quota);
    for (const uid of uids) {
      const info = await stat(join(dir, "msg", String(uid)));
      box.messages.push({ uid, size: info.size, internalDate: info.mtime, flags: new Set(state.flags[uid] ?? []) });
      quota.add(info.size);
    }
    await box.saveState();
    return box;
  }

  /**
   * Stores one message durably; resolves with its UID once it is safe to acknowledge. Its
   * size is taken from the quota first (synchronously, before any I/O): over quota it throws
   * QuotaExceededError and nothing is written. `withinAccount` (MOVE) counts the bytes
   * whatever the limit, because the source is expunged right after.
   */
  async deliver(data: Buffer, withinAccount = false): Promise<number> {
    if (withinAccount) this.quota.add(data.length);
    else this.quota.reserve(data.length);
    const tmp = join(this.tmpDir, randomUUID());
    try {
      await writeSynced(tmp, data);
    } catch (error) {
      this.quota.release(data.length);
      throw error;
    }
    return new Promise<number>((resolve, reject) => {
      const fail = (error: Error) => {
        this.quota.release(data.length);
        reject(error);
      };
      this.pending.push({ tmp, size: data.length, resolve, reject: fail });
      void this.commit();
    });
  }

  private async commit(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0);
        const renamed: { p: Pending; uid: number }[] = [];
        for (const p of batch) {
          const uid = this.uidNext++;
          try {
            await rename(p.tmp, join(this.msgDir, String(uid)));
            renamed.push({ p, uid });
          } catch (error) {
            p.reject(error as Error);
          }
        }
        try {
          await fsyncDir(this.msgDir);
        } catch (error) {
          for (const { p } of renamed) p.reject(error as Error);
          continue;
        }
        const now = new Date();
        for (const { p, uid } of renamed) {
          this.messages.push({ uid, size: p.size, internalDate: now, flags: new Set() });
          p.resolve(uid);
        }
        this.emit("change");
      }
    } finally {
      this.committing = false;
    }
  }

  find(uid: number): StoredMessage | undefined {
    return this.messages.find((m) => m.uid === uid);
  }

  read(uid: number): Promise<Buffer> {
    return readFile(join(this.msgDir, String(uid)));
  }

  /** Changes flags and persists them (atomic replace of state.json). */
  async setFlags(uids: readonly number[], flags: readonly string[], mode: "add" | "remove" | "replace"): Promise<void> {
    const allowed = flags.filter((f) => !/^\\recent$/i.test(f));
    for (const uid of uids) {
      const message = this.find(uid);
      if (!message) continue;
      if (mode === "replace") message.flags.clear();
      for (const flag of allowed) {
        if (mode === "remove") message.flags.delete(flag);
        else message.flags.add(flag);
      }
    }
    await this.saveState();
    this.emit("flags", uids);
  }

  /** Removes the messages; state (with UIDNEXT) is written first so UIDs are never reused. */
  async expunge(uids: readonly number[]): Promise<number[]> {
    const gone = new Set(uids);
    const removed = this.messages.filter((m) => gone.has(m.uid)).map((m) => m.uid);
    if (removed.length === 0) return [];
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i]!;
      if (!gone.has(m.uid)) continue;
      this.messages.splice(i, 1);
      this.quota.release(m.size);
    }
    await this.saveState();
    await Promise.all(removed.map((uid) => unlink(join(this.msgDir, String(uid))).catch(() => undefined)));
    await fsyncDir(this.msgDir);
    this.emit("change");
    return removed;
  }

  private saveState(): Promise<void> {
    // Serialised: two concurrent writers must not race their renames out of order.
    this.stateWrite = this.stateWrite.then(() => {
      const flags: Record<string, string[]> = {};
      for (const m of this.messages) if (m.flags.size > 0) flags[m.uid] = [...m.flags];
      const state: MailboxState = { uidValidity: this.uidValidity, uidNext: this.uidNext, flags };
      return replaceFileDurably(join(this.dir, "state.json"), JSON.stringify(state));
    });
    return this.stateWrite;
  }
}

/** A mailbox whose state.json cannot be trusted; MailStore quarantines it. */
export class CorruptMailboxError extends Error {}

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 1;

function parseState(user: string, text: string): MailboxState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CorruptMailboxError(`mailbox ${user}: state.json is not JSON: ${(error as Error).message}`);
  }
  const v = value as Partial<MailboxState> | null;
  const flagsOk =
    !!v && typeof v.flags === "object" && v.flags !== null && Object.values(v.flags).every((f) => Array.isArray(f) && f.every((x) => typeof x === "string"));
  if (!v || !isCount(v.uidValidity) || !isCount(v.uidNext) || !flagsOk) throw new CorruptMailboxError(`mailbox ${user}: state.json has the wrong shape`);
  return { uidValidity: v.uidValidity, uidNext: v.uidNext, flags: v.flags! };
}

export interface Quarantined {
  readonly user: string;
  /** Where the mailbox folder was moved, whole, for the operator. */
  readonly path: string;
  readonly reason: string;
}

export class MailStore {
  private constructor(
    private readonly accounts: ReadonlyMap<string, Account>,
    /** Mailboxes moved aside at start-up because their state could not be trusted. */
    readonly quarantined: readonly Quarantined[],
  ) {}

  /**
   * Opens every user's account (INBOX and folders, ./account.ts), each with its quota in bytes
   * from `quotas` (none: unlimited). One whose state is corrupt does not stop the others:
   * its folder is moved whole to `<root>/.quarantine/<user>.<time>` (nothing is deleted or
   * reinterpreted) and the user starts with a new, empty INBOX so mail keeps arriving.
   * A user is a local part of the datacenter's domains (`alice`) or a hosting customer's
   * full address (`info@example.org`); either is one file name, never `.` or `..`.
   */
  static async open(
    root: string,
    users: readonly string[],
    onQuarantine?: (q: Quarantined) => void,
    quotas: ReadonlyMap<string, number> = new Map(),
  ): Promise<MailStore> {
    const accounts = new Map<string, Account>();
    const quarantined: Quarantined[] = [];
    for (const user of users) {
      // One file name under root, never root itself, its parent or the quarantine.
      if (["", ".", "..", ".quarantine"].includes(user) || user.includes("/") || user.includes("\0"))
        throw new Error(`mail: ${JSON.stringify(user)} cannot be a mailbox`);
      const dir = join(root, user);
      try {
        accounts.set(user, await Account.open(user, dir, quotas.get(user)));
      } catch (error) {
        if (!(error instanceof CorruptMailboxError)) throw error;
        const aside = join(root, ".quarantine", `${user}.${new Date().toISOString().replace(/[:.]/g, "-")}`);
        await mkdirDurably(join(root, ".quarantine"));
        await rename(dir, aside);
        await fsyncDir(root);
        await fsyncDir(join(root, ".quarantine"));
        const q = { user, path: aside, reason: error.message };
        quarantined.push(q);
        onQuarantine?.(q);
        accounts.set(user, await Account.open(user, dir, quotas.get(user)));
      }
    }
    return new MailStore(accounts, quarantined);
  }

  has(user: string): boolean {
    return this.accounts.has(user);
  }

  account(user: string): Account {
    const account = this.accounts.get(user);
    if (!account) throw new Error(`no mailbox for ${user}`);
    return account;
  }

  /** The user's INBOX. */
  mailbox(user: string): Mailbox {
    return this.account(user).inbox;
  }

  /**
   * Delivers to every user's INBOX; resolves when all copies are durable. All or nothing for
   * the quota: when the message does not fit one of them it throws QuotaExceededError before
   * anything is written for any of them.
   */
  async deliver(users: readonly string[], data: Buffer): Promise<void> {
    const boxes = [...new Set(users)].map((u) => this.mailbox(u));
    const full = boxes.find((box) => !box.quota.fits(data.length));
    if (full) throw new QuotaExceededError(full.user, data.length, full.quota.limitBytes);
    // Each deliver takes its bytes synchronously, so nothing can come between the check and them.
    await Promise.all(boxes.map((box) => box.deliver(data)));
  }
}
