/**
 * One user's mail account: INBOX and their other folders, all under one quota.
 *
 *   <root>/<user>/                 INBOX (msg/, tmp/, state.json: see ./store.ts)
 *   <root>/<user>/folders/<hex>/   every other folder, its name's UTF-8 bytes in hex
 *
 * A folder's name never becomes a path: it is checked (`folderNameError`) and then stored as
 * hex, so no name — `..`, `/`, NUL or anything else — can reach outside the account. The
 * standard folders (Sent, Drafts, Trash, with their RFC 6154 SPECIAL-USE attributes) exist in
 * every account; they cannot be deleted or renamed, so a client always finds them.
 */
import { randomUUID } from "node:crypto";
import { readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir, mkdirDurably } from "./durable";
import { Quota } from "./quota";
import { Mailbox } from "./store";

/** The folders every account has, and their SPECIAL-USE attribute (RFC 6154). */
export const STANDARD_FOLDERS: ReadonlyMap<string, string> = new Map([
  ["Sent", "\\Sent"],
  ["Drafts", "\\Drafts"],
  ["Trash", "\\Trash"],
]);

/** Folders one account may have besides INBOX: a client cannot fill the volume with empty folders. */
export const MAX_FOLDERS = 500;

/** Longest folder name in bytes (hex-encoded it must fit one file name). */
const MAX_NAME_BYTES = 100;

/** Why `name` cannot be a folder's name, or undefined when it can. INBOX is handled by the caller. */
export function folderNameError(name: string): string | undefined {
  if (name === "") return "Empty mailbox name";
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `Mailbox names are at most ${MAX_NAME_BYTES} bytes`;
  // Printable ASCII only: clients send other characters in modified UTF-7 (RFC 3501 §5.1.3).
  if (/[^\x20-\x7e]/.test(name)) return "Mailbox names are printable ASCII (modified UTF-7)";
  if (/[*%\\"]/.test(name)) return 'Mailbox names may not contain * % \\ or "';
  const parts = name.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) return "Each level of a mailbox name must be a non-empty name other than . and ..";
  if (parts[0]!.toUpperCase() === "INBOX") return "INBOX has no subfolders here";
  return undefined;
}

const toDir = (name: string) => Buffer.from(name, "utf8").toString("hex");
const fromDir = (entry: string) => (/^(?:[0-9a-f]{2})+$/.test(entry) ? Buffer.from(entry, "hex").toString("utf8") : undefined);

export const isInboxName = (name: string) => name.toUpperCase() === "INBOX";

export class Account {
  private readonly folders = new Map<string, Mailbox>();

  private constructor(
    readonly user: string,
    private readonly dir: string,
    readonly quota: Quota,
    readonly inbox: Mailbox,
  ) {}

  private get foldersDir(): string {
    return join(this.dir, "folders");
  }

  static async open(user: string, dir: string, quotaBytes?: number): Promise<Account> {
    const quota = new Quota(user, quotaBytes);
    const inbox = await Mailbox.open(user, dir, quota);
    const account = new Account(user, dir, quota, inbox);
    await mkdirDurably(account.foldersDir);
    for (const entry of (await readdir(account.foldersDir)).sort()) {
      const name = fromDir(entry);
      // A folder half deleted before a crash (renamed aside first), or nothing of ours.
      if (name === undefined || folderNameError(name)) {
        if (entry.startsWith(".deleted-")) await rm(join(account.foldersDir, entry), { recursive: true, force: true });
        continue;
      }
      account.folders.set(name, await Mailbox.open(user, join(account.foldersDir, entry), quota));
    }
    for (const name of STANDARD_FOLDERS.keys()) if (!account.folders.has(name)) await account.create(name);
    return account;
  }

  /** The folder by name (INBOX in any case), or undefined. */
  folder(name: string): Mailbox | undefined {
    return isInboxName(name) ? this.inbox : this.folders.get(name);
  }

  /** Every folder's name, INBOX first. */
  names(): string[] {
    return ["INBOX", ...[...this.folders.keys()].sort()];
  }

  hasChildren(name: string): boolean {
    return [...this.folders.keys()].some((n) => n.startsWith(`${name}/`));
  }

  /** Creates the folder and any missing parents (RFC 3501 §6.3.3); throws an Error with the client's text. */
  async create(name: string): Promise<void> {
    if (isInboxName(name) || this.folders.has(name)) throw new Error("[ALREADYEXISTS] Mailbox already exists");
    const invalid = folderNameError(name);
    if (invalid) throw new Error(`[CANNOT] ${invalid}`);
    const parts = name.split("/");
    const missing = parts.filter((_, i) => !this.folders.has(parts.slice(0, i + 1).join("/"))).length;
    if (this.folders.size + missing > MAX_FOLDERS) throw new Error(`[LIMIT] At most ${MAX_FOLDERS} folders per mailbox`);
    for (let i = 1; i <= parts.length; i++) {
      const level = parts.slice(0, i).join("/");
      if (this.folders.has(level)) continue;
      this.folders.set(level, await Mailbox.open(this.user, join(this.foldersDir, toDir(level)), this.quota));
      await fsyncDir(this.foldersDir);
    }
  }

  /** Deletes the folder and its messages (its bytes return to the quota). */
  async delete(name: string): Promise<void> {
    const box = this.writable(name);
    if (this.hasChildren(name)) throw new Error("[INUSE] Delete its subfolders first");
    // Renamed aside first, so a crash in the middle leaves either the folder or nothing visible.
    const aside = join(this.foldersDir, `.deleted-${randomUUID()}`);
    await rename(join(this.foldersDir, toDir(name)), aside);
    await fsyncDir(this.foldersDir);
    this.folders.delete(name);
    this.quota.release(box.bytes);
    // Sessions that still have it selected see its messages expunged (and cannot release them twice).
    box.messages.splice(0);
    box.emit("change");
    await rm(aside, { recursive: true, force: true });
  }

  /** Renames the folder and its subfolders (RFC 3501 §6.3.5). */
  async rename(from: string, to: string): Promise<void> {
    this.writable(from);
    if (isInboxName(to) || this.folders.has(to)) throw new Error("[ALREADYEXISTS] The new name is taken");
    const invalid = folderNameError(to);
    if (invalid) throw new Error(`[CANNOT] ${invalid}`);
    if (to.startsWith(`${from}/`)) throw new Error("[CANNOT] A mailbox cannot move into itself");
    const moving = [...this.folders.keys()].filter((n) => n === from || n.startsWith(`${from}/`));
    if (moving.some((old) => this.folders.has(to + old.slice(from.length)))) throw new Error("[ALREADYEXISTS] A new name is taken");
    // Parents of the new name first (RENAME creates them like CREATE).
    const parent = to.split("/").slice(0, -1).join("/");
    if (parent && !this.folders.has(parent)) await this.create(parent);
    for (const old of moving) {
      const name = to + old.slice(from.length);
      const box = this.folders.get(old)!;
      const target = join(this.foldersDir, toDir(name));
      await rename(join(this.foldersDir, toDir(old)), target);
      box.relocate(target);
      this.folders.delete(old);
      this.folders.set(name, box);
    }
    await fsyncDir(this.foldersDir);
  }

  private writable(name: string): Mailbox {
    if (isInboxName(name)) throw new Error("[CANNOT] INBOX cannot be deleted or renamed here");
    if (STANDARD_FOLDERS.has(name)) throw new Error(`[CANNOT] ${name} is a standard folder`);
    const box = this.folders.get(name);
    if (!box) throw new Error("[NONEXISTENT] No such mailbox");
    return box;
  }
}
