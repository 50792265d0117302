/**
 * Restore of a backup into the running server (`POST /backups/restore {name, user?}` on the
 * management port): every message of the backup's mailboxes goes back into the same user's
 * folder of the same name (created when missing) with its flags, as a new delivery with a new
 * UID, so sessions see it arrive like any other message. A message already in that folder
 * with the same bytes is skipped, so a restore can be repeated and never duplicates mail; a
 * restore is not a delivery, so it is not held to the quota. Users the backup holds but this
 * server no longer has are reported, not created. The backup folder comes from the replica's
 * backup volume or, when only the target host's store still holds it, is fetched from there
 * first (images/runtime/backups.ts `path`).
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { folderNameError } from "./account";
import type { Mailbox, MailStore } from "./store";

export interface RestoreResult {
  /** Messages put back. */
  readonly restored: number;
  /** Messages already present with the same bytes. */
  readonly present: number;
  /** Users in the backup that this server does not have. */
  readonly unknownUsers: readonly string[];
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** The folders of one user's mailbox in a backup: [name, folder path]. */
async function backupFolders(dir: string): Promise<[string, string][]> {
  const out: [string, string][] = [["INBOX", dir]];
  for (const entry of await readdir(join(dir, "folders")).catch(() => [] as string[])) {
    const name = /^(?:[0-9a-f]{2})+$/.test(entry) ? Buffer.from(entry, "hex").toString("utf8") : undefined;
    if (name !== undefined && !folderNameError(name)) out.push([name, join(dir, "folders", entry)]);
  }
  return out;
}

async function restoreFolder(from: string, box: Mailbox): Promise<{ restored: number; present: number }> {
  let flags: Record<string, string[]> = {};
  try {
    flags = (JSON.parse(await readFile(join(from, "state.json"), "utf8")) as { flags?: Record<string, string[]> }).flags ?? {};
  } catch {
    // No flags known: the messages come back unflagged.
  }
  const uids = (await readdir(join(from, "msg")).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
  const have = new Set<string>();
  for (const m of box.messages) have.add(sha256(await box.read(m.uid).catch(() => Buffer.alloc(0))));
  let restored = 0;
  let present = 0;
  for (const uid of uids) {
    const data = await readFile(join(from, "msg", uid));
    const hash = sha256(data);
    if (have.has(hash)) {
      present++;
      continue;
    }
    const newUid = await box.deliver(data, true);
    const kept = (flags[uid] ?? []).filter((f) => typeof f === "string" && !/^\\recent$/i.test(f));
    if (kept.length > 0) await box.setFlags([newUid], kept, "add");
    have.add(hash);
    restored++;
  }
  return { restored, present };
}

/** Restores backup folder `backup` (its `mailboxes/`) for `user`, or for every user. */
export async function restoreMailBackup(backup: string, store: MailStore, user?: string): Promise<RestoreResult> {
  const root = join(backup, "mailboxes");
  let restored = 0;
  let present = 0;
  const unknownUsers: string[] = [];
  for (const entry of (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name !== ".quarantine")) {
    if (user !== undefined && entry.name !== user) continue;
    if (!store.has(entry.name)) {
      unknownUsers.push(entry.name);
      continue;
    }
    const account = store.account(entry.name);
    for (const [name, dir] of await backupFolders(join(root, entry.name))) {
      if (!account.folder(name)) await account.create(name);
      const r = await restoreFolder(dir, account.folder(name)!);
      restored += r.restored;
      present += r.present;
    }
  }
  return { restored, present, unknownUsers };
}
