/**
 * Durable mailboxes: one folder per user on the data volume.
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
import { mkdir, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir, replaceFileDurably, writeSynced } from "./durable";

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
    private readonly dir: string,
    public uidValidity: number,
    public uidNext: number,
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

  static async open(user: string, dir: string): Promise<Mailbox> {
    await mkdir(join(dir, "msg"), { recursive: true, mode: 0o700 });
    // Anything in tmp/ was never acknowledged to a client: drop it.
    await rm(join(dir, "tmp"), { recursive: true, force: true });
    await mkdir(join(dir, "tmp"), { mode: 0o700 });
    let state: MailboxState = { uidValidity: Math.floor(Date.now() / 1000), uidNext: 1, flags: {} };
    try {
      state = { ...state, ...(JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as Partial<MailboxState>) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`mailbox ${user}: unreadable state.json: ${(error as Error).message}`);
    }
    const uids = (await readdir(join(dir, "msg")))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
    const box = new Mailbox(user, dir, state.uidValidity, Math.max(state.uidNext, (uids.at(-1) ?? 0) + 1));
    for (const uid of uids) {
      const info = await stat(join(dir, "msg", String(uid)));
      box.messages.push({ uid, size: info.size, internalDate: info.mtime, flags: new Set(state.flags[uid] ?? []) });
    }
    await box.saveState();
    return box;
  }

  /** Stores one message durably; resolves with its UID once it is safe to acknowledge. */
  async deliver(data: Buffer): Promise<number> {
    const tmp = join(this.tmpDir, randomUUID());
    await writeSynced(tmp, data);
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ tmp, size: data.length, resolve, reject });
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
    for (let i = this.messages.length - 1; i >= 0; i--) if (gone.has(this.messages[i]!.uid)) this.messages.splice(i, 1);
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

export class MailStore {
  private constructor(private readonly boxes: ReadonlyMap<string, Mailbox>) {}

  static async open(root: string, users: readonly string[]): Promise<MailStore> {
    const boxes = new Map<string, Mailbox>();
    for (const user of users) boxes.set(user, await Mailbox.open(user, join(root, user)));
    return new MailStore(boxes);
  }

  has(user: string): boolean {
    return this.boxes.has(user);
  }

  mailbox(user: string): Mailbox {
    const box = this.boxes.get(user);
    if (!box) throw new Error(`no mailbox for ${user}`);
    return box;
  }

  /** Delivers to every user; resolves when all copies are durable. */
  async deliver(users: readonly string[], data: Buffer): Promise<void> {
    await Promise.all([...new Set(users)].map((u) => this.mailbox(u).deliver(data)));
  }
}
