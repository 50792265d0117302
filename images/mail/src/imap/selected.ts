/**
 * The selected state of an IMAP session (RFC 3501 §6.4): the session's view of a folder (UIDs in
 * its sequence order), the commands that work on it — FETCH, STORE, SEARCH, COPY/MOVE,
 * EXPUNGE, CLOSE — and the untagged EXISTS/EXPUNGE updates that keep the view in step with
 * deliveries and other sessions.
 */
import type { Mailbox, StoredMessage } from "../store";
import { QuotaExceededError } from "../quota";
import { OVERQUOTA } from "./folders";
import { flagList, needsContent, parseFetchItems, renderFetch } from "./fetch";
import { ImapSyntaxError, parseSequenceSet, type Token } from "./parser";
import { validateFlags } from "./flags";
import { no, ok, type Reply } from "./reply";
import { compileSearch } from "./search";

export class SelectedMailbox {
  /** UIDs in this session's sequence order. */
  private readonly view: number[];

  constructor(
    readonly box: Mailbox,
    /** EXAMINE: flags and expunges are refused. */
    readonly readOnly: boolean,
    private readonly send: (line: string) => void,
    /** Waits while the client has not read what was sent (images/mail/src/connection.ts whenWritable). */
    private readonly writable: () => Promise<void> = () => Promise.resolve(),
    /** Another folder of the same account by name (COPY, MOVE); by default only this one, as INBOX. */
    private readonly folder: (name: string) => Mailbox | undefined = (name) => (name.toUpperCase() === "INBOX" ? box : undefined),
  ) {
    this.view = box.messages.map((m) => m.uid);
  }

  /** Messages in the session's view (its EXISTS). */
  get size(): number {
    return this.view.length;
  }

  /** The (sequence number, message) pairs a set names, in sequence order. */
  private resolve(set: string, uid: boolean): { seq: number; message: StoredMessage }[] {
    const box = this.box;
    const maxUid = this.view.at(-1) ?? 0;
    const match = parseSequenceSet(set, uid ? Math.max(maxUid, 1) : this.view.length);
    const out: { seq: number; message: StoredMessage }[] = [];
    this.view.forEach((u, i) => {
      if (!match(uid ? u : i + 1)) return;
      const message = box.find(u);
      if (message) out.push({ seq: i + 1, message });
    });
    // `UID FETCH n:*` must return the last message even when n is above every UID.
    if (uid && out.length === 0 && /\*/.test(set) && this.view.length > 0) {
      const message = box.find(maxUid);
      if (message) out.push({ seq: this.view.length, message });
    }
    return out;
  }

  async fetch(set: string, itemsToken: Token | undefined, uid: boolean): Promise<Reply> {
    const items = parseFetchItems(itemsToken);
    if (uid && !items.some((i) => i.name === "UID")) items.unshift({ name: "UID" });
    const setSeen = !this.readOnly && items.some((i) => i.setsSeen);
    for (const { seq, message } of this.resolve(set, uid)) {
      // One message at a time, each only once the client read the last: memory stays bounded.
      await this.writable();
      const raw = needsContent(items) ? await this.box.read(message.uid).catch(() => undefined) : undefined;
      if (needsContent(items) && !raw) continue; // expunged meanwhile by another session
      let extra = "";
      if (setSeen && !message.flags.has("\\Seen")) {
        await this.box.setFlags([message.uid], ["\\Seen"], "add");
        if (!items.some((i) => i.name === "FLAGS")) extra = ` FLAGS ${flagList(message.flags)}`;
      }
      this.send(`* ${seq} FETCH (${renderFetch(message, items, raw)}${extra})`);
    }
    this.sync(false);
    return ok(`${uid ? "UID " : ""}FETCH completed`);
  }

  async storeFlags(set: string, action: string, rest: Token[], uid: boolean): Promise<Reply> {
    if (this.readOnly) return no("Mailbox is read-only");
    const m = /^([+-]?)FLAGS(\.SILENT)?$/i.exec(action);
    if (!m) throw new ImapSyntaxError(`bad store action ${action.slice(0, 20)}`);
    const first = rest[0];
    const flagTokens = rest.length === 1 && first?.type === "list" ? first.items : rest;
    const flags = validateFlags(flagTokens);
    const targets = this.resolve(set, uid);
    await this.box.setFlags(
      targets.map((x) => x.message.uid),
      flags,
      m[1] === "+" ? "add" : m[1] === "-" ? "remove" : "replace",
    );
    if (!m[2]) for (const { seq, message } of targets) this.send(`* ${seq} FETCH (${uid ? `UID ${message.uid} ` : ""}FLAGS ${flagList(message.flags)})`);
    return ok(`${uid ? "UID " : ""}STORE completed`);
  }

  async search(t: Token[], uid: boolean): Promise<Reply> {
    const matcher = compileSearch(t);
    const found: number[] = [];
    const maxUid = this.view.at(-1) ?? 0;
    const box = this.box;
    for (const [i, u] of this.view.entries()) {
      const message = box.find(u);
      if (!message) continue;
      let raw: Buffer | undefined;
      const ctx = { seq: i + 1, message, maxSeq: this.view.length, maxUid, raw: async () => (raw ??= await box.read(u)) };
      if (await matcher(ctx)) found.push(uid ? u : i + 1);
    }
    this.send(`* SEARCH${found.map((n) => ` ${n}`).join("")}`);
    return ok(`${uid ? "UID " : ""}SEARCH completed`);
  }

  /**
   * COPY, or MOVE (`name`): the copies are new deliveries; MOVE then expunges the sources.
   * A COPY that does not fit the quota copies nothing (`NO [OVERQUOTA]`); a MOVE stays within
   * the account, so it is allowed even when full (moving mail to Trash must always work).
   */
  async copy(name: string, set: string, targetName: string, uid: boolean): Promise<Reply> {
    const target = this.folder(targetName);
    if (!target) return no("[TRYCREATE] No such mailbox");
    const sources = this.resolve(set, uid);
    const move = name === "MOVE";
    if (!move && !target.quota.fits(sources.reduce((sum, { message }) => sum + message.size, 0))) return no(OVERQUOTA);
    const fromUids: number[] = [];
    const toUids: number[] = [];
    for (const { message } of sources) {
      try {
        toUids.push(await target.deliver(await this.box.read(message.uid), move));
      } catch (error) {
        // Filled meanwhile by a delivery: the copies made so far stay, as after any failed COPY.
        if (error instanceof QuotaExceededError) return no(OVERQUOTA);
        throw error;
      }
      fromUids.push(message.uid);
    }
    if (move) {
      await this.box.expunge(fromUids);
      this.sync(true);
    }
    return ok(`[COPYUID ${target.uidValidity} ${fromUids.join(",")} ${toUids.join(",")}] ${name} completed`);
  }

  /** EXPUNGE, or UID EXPUNGE of `uidSet`: removes the messages flagged \Deleted. */
  async expunge(uidSet: string | undefined): Promise<Reply> {
    if (this.readOnly) return no("Mailbox is read-only");
    const box = this.box;
    const match = uidSet ? parseSequenceSet(uidSet, Math.max(this.view.at(-1) ?? 1, 1)) : () => true;
    await box.expunge(box.messages.filter((m) => m.flags.has("\\Deleted") && match(m.uid)).map((m) => m.uid));
    this.sync(true);
    return ok("EXPUNGE completed");
  }

  /** CLOSE: expunges the messages flagged \Deleted silently (unless read-only). */
  async close(): Promise<void> {
    if (!this.readOnly) await this.box.expunge(this.box.messages.filter((m) => m.flags.has("\\Deleted")).map((m) => m.uid));
  }

  /** Tells the client about expunged (when allowed) and new messages. */
  sync(allowExpunge: boolean): void {
    const box = this.box;
    const present = new Set(box.messages.map((m) => m.uid));
    if (allowExpunge) {
      for (let i = this.view.length - 1; i >= 0; i--) {
        if (!present.has(this.view[i]!)) {
          this.send(`* ${i + 1} EXPUNGE`);
          this.view.splice(i, 1);
        }
      }
    }
    const last = this.view.at(-1) ?? 0;
    const added = box.messages.filter((m) => m.uid > last).map((m) => m.uid);
    if (added.length > 0) {
      this.view.push(...added);
      this.send(`* ${this.view.length} EXISTS`);
    }
  }
}
