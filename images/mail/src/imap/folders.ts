/**
 * The IMAP commands on an account's folders (RFC 3501 §6.3): LIST/LSUB with the RFC 6154
 * SPECIAL-USE attributes, STATUS, CREATE, DELETE, RENAME, SUBSCRIBE, APPEND, and the
 * quota commands GETQUOTA/GETQUOTAROOT (RFC 9208, one root "" for the whole account). The
 * folders themselves, and the rules for their names, are ../account.ts. A delivery over the
 * quota answers `NO [OVERQUOTA]` and stores nothing.
 */
import { isInboxName, STANDARD_FOLDERS, type Account } from "../account";
import { QuotaExceededError } from "../quota";
import { validateFlags } from "./flags";
import { asString, ImapSyntaxError, quote, type Token } from "./parser";
import { matchesListPattern } from "./pattern";
import { no, ok, type Reply } from "./reply";

const mailboxName = (name: string) => (isInboxName(name) ? "INBOX" : quote(name));

export const OVERQUOTA = "[OVERQUOTA] Mailbox is full";

export class FolderCommands {
  constructor(
    private readonly account: Account,
    private readonly send: (line: string) => void,
  ) {}

  list(command: string, reference: string, pattern: string): Reply {
    if (pattern === "") {
      this.send(`* ${command} (\\Noselect) "/" ""`);
      return ok(`${command} completed`);
    }
    for (const name of this.account.names()) {
      if (!matchesListPattern(reference + pattern, name)) continue;
      const attributes = [this.account.hasChildren(name) ? "\\HasChildren" : "\\HasNoChildren"];
      const use = STANDARD_FOLDERS.get(name);
      if (use) attributes.push(use);
      this.send(`* ${command} (${attributes.join(" ")}) "/" ${mailboxName(name)}`);
    }
    return ok(`${command} completed`);
  }

  status(name: string, items: Token | undefined): Reply {
    const box = this.account.folder(name);
    if (!box) return no("[NONEXISTENT] No such mailbox");
    if (!items || items.type !== "list") throw new ImapSyntaxError("expected status items");
    const values: Record<string, number> = {
      MESSAGES: box.messages.length,
      RECENT: 0,
      UIDNEXT: box.uidNext,
      UIDVALIDITY: box.uidValidity,
      UNSEEN: box.messages.filter((m) => !m.flags.has("\\Seen")).length,
    };
    const out = items.items.map((t) => {
      const key = asString(t, "status item").toUpperCase();
      if (!(key in values)) throw new ImapSyntaxError(`unknown status item ${key.slice(0, 20)}`);
      return `${key} ${values[key]}`;
    });
    this.send(`* STATUS ${mailboxName(name)} (${out.join(" ")})`);
    return ok("STATUS completed");
  }

  /** CREATE, DELETE, RENAME: the account's error text is the client's answer. */
  async change(command: "CREATE" | "DELETE" | "RENAME", t: Token[]): Promise<Reply> {
    const name = asString(t[0], "mailbox");
    try {
      if (command === "CREATE") await this.account.create(name.endsWith("/") ? name.slice(0, -1) : name);
      else if (command === "DELETE") await this.account.delete(name);
      else await this.account.rename(name, asString(t[1], "new mailbox name"));
    } catch (error) {
      const message = (error as Error).message;
      if (!message.startsWith("[")) throw error;
      return no(message);
    }
    return ok(`${command} completed`);
  }

  subscribe(command: string, name: string): Reply {
    // Every folder counts as subscribed (LSUB lists them all).
    return this.account.folder(name) ? ok(`${command} completed`) : no("[NONEXISTENT] No such mailbox");
  }

  async append(t: Token[]): Promise<Reply> {
    const target = asString(t[0], "mailbox");
    const message = t.at(-1);
    if (!message || message.type !== "string") throw new ImapSyntaxError("expected a message literal");
    const box = this.account.folder(target);
    if (!box) return no("[TRYCREATE] No such mailbox");
    const flags = t.length > 2 && t[1]?.type === "list" ? validateFlags(t[1].items) : [];
    let uid: number;
    try {
      uid = await box.deliver(message.value);
    } catch (error) {
      if (error instanceof QuotaExceededError) return no(OVERQUOTA);
      throw error;
    }
    if (flags.length > 0) await box.setFlags([uid], flags, "add");
    return ok(`[APPENDUID ${box.uidValidity} ${uid}] APPEND completed`);
  }

  /** GETQUOTAROOT (any folder: the root "") and GETQUOTA "" (RFC 9208 §4.2): STORAGE in KiB. */
  quota(command: "GETQUOTA" | "GETQUOTAROOT", name: string): Reply {
    const limit = this.account.quota.limitBytes;
    if (command === "GETQUOTAROOT") {
      if (!this.account.folder(name)) return no("[NONEXISTENT] No such mailbox");
      this.send(`* QUOTAROOT ${mailboxName(name)}${Number.isFinite(limit) ? ' ""' : ""}`);
    } else if (name !== "" || !Number.isFinite(limit)) return no("[NONEXISTENT] No such quota root");
    if (Number.isFinite(limit)) this.send(`* QUOTA "" (STORAGE ${Math.ceil(this.account.quota.used / 1024)} ${Math.floor(limit / 1024)})`);
    return ok(`${command} completed`);
  }
}
