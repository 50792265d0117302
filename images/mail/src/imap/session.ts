/**
 * One IMAP4rev1 connection (RFC 3501): the state machine (not authenticated -> authenticated
 * -> selected), every command real clients need, IDLE, and the untagged EXISTS/EXPUNGE
 * updates that keep a session's view of INBOX in step with deliveries and other sessions.
 * There is one mailbox per user, INBOX; other names answer NO [TRYCREATE].
 */
import type { Socket } from "node:net";
import type { Logger } from "../../../runtime/log";
import type { Authenticator } from "../auth";
import type { Mailbox, MailStore, StoredMessage } from "../store";
import { flagList, needsContent, parseFetchItems, renderFetch } from "./fetch";
import { asString, CommandReader, ImapSyntaxError, parseSequenceSet, tokenize, type Token } from "./parser";
import { compileSearch } from "./search";

export interface ImapDeps {
  readonly store: MailStore;
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly maxMessageBytes: number;
}

const CAPS = "IMAP4rev1 LITERAL+ IDLE UIDPLUS UNSELECT NAMESPACE ID AUTH=PLAIN";
const FLAGS = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)";
/** Consecutive protocol errors after which the client is disconnected. */
const MAX_ERRORS = 50;

type Reply = { status: "OK" | "NO" | "BAD"; text: string };
const ok = (text: string): Reply => ({ status: "OK", text });
const no = (text: string): Reply => ({ status: "NO", text });

export class ImapSession {
  private readonly reader: CommandReader;
  private user: string | undefined;
  private box: Mailbox | undefined;
  private readOnly = false;
  /** UIDs in this session's sequence order. */
  private view: number[] = [];
  private idleTag: string | undefined;
  private authTag: string | undefined;
  private errors = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly onChange = () => {
    if (this.idleTag) this.sync(true);
  };

  constructor(
    private readonly socket: Socket,
    private readonly deps: ImapDeps,
  ) {
    this.reader = new CommandReader(deps.maxMessageBytes, () => this.send("+ Ready for literal data"));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.deselect());
    socket.on("error", () => undefined);
    socket.setTimeout(30 * 60_000, () => this.bye("Autologout; idle for too long"));
    this.send(`* OK [CAPABILITY ${CAPS}] Serverpark IMAP ready`);
  }

  private send(line: string): void {
    if (!this.socket.destroyed) this.socket.write(`${line}\r\n`, "latin1");
  }

  private bye(text: string): void {
    this.send(`* BYE ${text}`);
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    let commands;
    try {
      commands = this.reader.push(chunk);
    } catch (error) {
      return this.bye(`Protocol error: ${(error as Error).message}`);
    }
    for (const command of commands) {
      // Commands run one after another; a slow FETCH must not let a later STORE overtake it.
      this.chain = this.chain
        .then(() => this.run(command.text, command.literals))
        .catch((error: unknown) => {
          this.deps.log.error({ err: error }, "imap command failed");
          this.bye("Internal error");
        });
    }
  }

  private async run(text: string, literals: Buffer[]): Promise<void> {
    if (this.socket.destroyed) return;
    if (this.idleTag) {
      if (text.toUpperCase() === "DONE") {
        this.send(`${this.idleTag} OK IDLE terminated`);
        this.idleTag = undefined;
      } else this.send(`${this.idleTag} BAD Expected DONE`);
      return;
    }
    if (this.authTag) return this.finishAuthenticate(text);
    const m = /^([\x21-\x7e]+?) ([A-Za-z]+)(?: (.*))?$/s.exec(text);
    if (!m || /[(){%*"\\\]]/.test(m[1]!)) {
      this.send("* BAD Invalid tag or command");
      if (++this.errors >= MAX_ERRORS) this.bye("Too many errors");
      return;
    }
    const [, tag, rawName, args = ""] = m;
    let name = rawName!.toUpperCase();
    let reply: Reply;
    try {
      let tokens = tokenize(args, literals);
      let uid = false;
      if (name === "UID") {
        uid = true;
        name = asString(tokens[0], "UID command").toUpperCase();
        tokens = tokens.slice(1);
      }
      reply = await this.dispatch(tag!, name, tokens, uid);
      this.errors = 0;
    } catch (error) {
      if (!(error instanceof ImapSyntaxError)) throw error;
      reply = { status: "BAD", text: error.message };
      if (++this.errors >= MAX_ERRORS) return this.bye("Too many errors");
    }
    if (reply.text === "") return; // the command answers later (IDLE, AUTHENTICATE)
    this.send(`${tag} ${reply.status} ${reply.text}`);
    if (name === "LOGOUT") this.socket.end();
  }

  private async dispatch(tag: string, name: string, t: Token[], uid: boolean): Promise<Reply> {
    switch (name) {
      case "CAPABILITY":
        this.send(`* CAPABILITY ${CAPS}`);
        return ok("CAPABILITY completed");
      case "NOOP":
      case "CHECK":
        this.sync(true);
        return ok(`${name} completed`);
      case "LOGOUT":
        this.send("* BYE Serverpark IMAP logging out");
        return ok("LOGOUT completed");
      case "ID":
        this.send('* ID ("name" "Serverpark")');
        return ok("ID completed");
    }
    if (!this.user) {
      if (name === "LOGIN") return this.login(asString(t[0], "user name"), asString(t[1], "password"));
      if (name === "AUTHENTICATE") return this.authenticate(tag, t);
      return { status: "BAD", text: `${name} not allowed now; log in first` };
    }
    switch (name) {
      case "LOGIN":
      case "AUTHENTICATE":
        return { status: "BAD", text: "Already authenticated" };
      case "SELECT":
      case "EXAMINE":
        return this.select(asString(t[0], "mailbox"), name === "EXAMINE");
      case "LIST":
      case "LSUB":
        return this.list(name, asString(t[0], "reference"), asString(t[1], "pattern"));
      case "NAMESPACE":
        this.send('* NAMESPACE (("" "/")) NIL NIL');
        return ok("NAMESPACE completed");
      case "STATUS":
        return this.status(asString(t[0], "mailbox"), t[1]);
      case "SUBSCRIBE":
      case "UNSUBSCRIBE":
        return isInbox(asString(t[0], "mailbox")) ? ok(`${name} completed`) : no("No such mailbox");
      case "CREATE":
      case "DELETE":
      case "RENAME":
        return no("Only INBOX exists on this server");
      case "APPEND":
        return this.append(t);
    }
    if (!this.box) return { status: "BAD", text: `${name} needs a selected mailbox` };
    switch (name) {
      case "FETCH":
        return this.fetch(asString(t[0], "sequence set"), t[1], uid);
      case "STORE":
        return this.storeFlags(asString(t[0], "sequence set"), asString(t[1], "store action"), t.slice(2), uid);
      case "SEARCH":
        return this.search(t, uid);
      case "COPY":
      case "MOVE":
        return this.copy(name, asString(t[0], "sequence set"), asString(t[1], "mailbox"), uid);
      case "EXPUNGE":
        return this.expunge(uid ? asString(t[0], "uid set") : undefined);
      case "CLOSE":
        if (!this.readOnly) await this.box.expunge(this.box.messages.filter((m) => m.flags.has("\\Deleted")).map((m) => m.uid));
        this.deselect();
        return ok("CLOSE completed");
      case "UNSELECT":
        this.deselect();
        return ok("UNSELECT completed");
      case "IDLE":
        this.idleTag = tag;
        this.send("+ idling");
        this.sync(true);
        return { status: "OK", text: "" };
    }
    return { status: "BAD", text: `Unknown command ${name.slice(0, 20)}` };
  }

  private async login(username: string, password: string): Promise<Reply> {
    const result = await this.deps.auth.login(this.socket.remoteAddress ?? "?", username, password);
    if (!result.ok)
      return no(result.reason === "blocked" ? "[UNAVAILABLE] Too many failed logins; try again later" : "[AUTHENTICATIONFAILED] Invalid credentials");
    if (!this.deps.store.has(result.user)) return no("[AUTHENTICATIONFAILED] Invalid credentials");
    this.user = result.user;
    return ok(`[CAPABILITY ${CAPS}] LOGIN completed`);
  }

  private authenticate(tag: string, t: Token[]): Reply | Promise<Reply> {
    if (asString(t[0], "mechanism").toUpperCase() !== "PLAIN") return no("Unsupported mechanism; use PLAIN");
    if (t[1]) return this.plain(asString(t[1], "initial response"));
    this.authTag = tag;
    this.send("+ ");
    return { status: "OK", text: "" };
  }

  private async finishAuthenticate(text: string): Promise<void> {
    const tag = this.authTag!;
    this.authTag = undefined;
    const reply = text === "*" ? { status: "BAD", text: "AUTHENTICATE cancelled" } : await this.plain(text);
    this.send(`${tag} ${reply.status} ${reply.text}`);
  }

  private plain(base64: string): Promise<Reply> {
    const [, user = "", password = ""] = Buffer.from(base64, "base64").toString("utf8").split("\0");
    return this.login(user, password);
  }

  private select(name: string, readOnly: boolean): Reply {
    this.deselect();
    if (!isInbox(name)) return no("[NONEXISTENT] No such mailbox");
    const box = this.deps.store.mailbox(this.user!);
    this.box = box;
    this.readOnly = readOnly;
    this.view = box.messages.map((m) => m.uid);
    box.on("change", this.onChange);
    this.send(`* FLAGS ${FLAGS}`);
    this.send(`* OK [PERMANENTFLAGS ${readOnly ? "()" : "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)"}] Flags permitted`);
    this.send(`* ${this.view.length} EXISTS`);
    this.send("* 0 RECENT");
    const unseen = box.messages.findIndex((m) => !m.flags.has("\\Seen"));
    if (unseen >= 0) this.send(`* OK [UNSEEN ${unseen + 1}] First unseen`);
    this.send(`* OK [UIDVALIDITY ${box.uidValidity}] UIDs valid`);
    this.send(`* OK [UIDNEXT ${box.uidNext}] Predicted next UID`);
    return ok(`[${readOnly ? "READ-ONLY" : "READ-WRITE"}] ${readOnly ? "EXAMINE" : "SELECT"} completed`);
  }

  private deselect(): void {
    this.box?.off("change", this.onChange);
    this.box = undefined;
    this.view = [];
  }

  private list(name: string, reference: string, pattern: string): Reply {
    if (pattern === "") this.send(`* ${name} (\\Noselect) "/" ""`);
    else {
      const regex = new RegExp(
        `^${(reference + pattern)
          .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
          .replace(/\*/g, ".*")
          .replace(/%/g, "[^/]*")}$`,
        "i",
      );
      if (regex.test("INBOX")) this.send(`* ${name} (\\HasNoChildren) "/" INBOX`);
    }
    return ok(`${name} completed`);
  }

  private status(name: string, items: Token | undefined): Reply {
    if (!isInbox(name)) return no("[NONEXISTENT] No such mailbox");
    if (!items || items.type !== "list") throw new ImapSyntaxError("expected status items");
    const box = this.deps.store.mailbox(this.user!);
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
    this.send(`* STATUS INBOX (${out.join(" ")})`);
    return ok("STATUS completed");
  }

  private async append(t: Token[]): Promise<Reply> {
    const target = asString(t[0], "mailbox");
    const message = t.at(-1);
    if (!message || message.type !== "string") throw new ImapSyntaxError("expected a message literal");
    if (!isInbox(target)) return no("[TRYCREATE] Only INBOX exists");
    const box = this.deps.store.mailbox(this.user!);
    const flags = t[1]?.type === "list" ? t[1].items.map((f) => asString(f, "flag")) : [];
    const uid = await box.deliver(message.value);
    if (flags.length > 0) await box.setFlags([uid], flags, "add");
    this.sync(false);
    return ok(`[APPENDUID ${box.uidValidity} ${uid}] APPEND completed`);
  }

  /** The (sequence number, message) pairs a set names, in sequence order. */
  private resolve(set: string, uid: boolean): { seq: number; message: StoredMessage }[] {
    const box = this.box!;
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

  private async fetch(set: string, itemsToken: Token | undefined, uid: boolean): Promise<Reply> {
    const items = parseFetchItems(itemsToken);
    if (uid && !items.some((i) => i.name === "UID")) items.unshift({ name: "UID" });
    const setSeen = !this.readOnly && items.some((i) => i.setsSeen);
    for (const { seq, message } of this.resolve(set, uid)) {
      const raw = needsContent(items) ? await this.box!.read(message.uid).catch(() => undefined) : undefined;
      if (needsContent(items) && !raw) continue; // expunged meanwhile by another session
      let extra = "";
      if (setSeen && !message.flags.has("\\Seen")) {
        await this.box!.setFlags([message.uid], ["\\Seen"], "add");
        if (!items.some((i) => i.name === "FLAGS")) extra = ` FLAGS ${flagList(message.flags)}`;
      }
      this.send(`* ${seq} FETCH (${renderFetch(message, items, raw)}${extra})`);
    }
    this.sync(false);
    return ok(`${uid ? "UID " : ""}FETCH completed`);
  }

  private async storeFlags(set: string, action: string, rest: Token[], uid: boolean): Promise<Reply> {
    if (this.readOnly) return no("Mailbox is read-only");
    const m = /^([+-]?)FLAGS(\.SILENT)?$/i.exec(action);
    if (!m) throw new ImapSyntaxError(`bad store action ${action.slice(0, 20)}`);
    const first = rest[0];
    const flagTokens = rest.length === 1 && first?.type === "list" ? first.items : rest;
    const flags = flagTokens.map((f) => asString(f, "flag"));
    if (flags.some((f) => !/^\\?[A-Za-z0-9$_.-]{1,64}$/.test(f))) throw new ImapSyntaxError("bad flag");
    const targets = this.resolve(set, uid);
    await this.box!.setFlags(
      targets.map((x) => x.message.uid),
      flags,
      m[1] === "+" ? "add" : m[1] === "-" ? "remove" : "replace",
    );
    if (!m[2]) for (const { seq, message } of targets) this.send(`* ${seq} FETCH (${uid ? `UID ${message.uid} ` : ""}FLAGS ${flagList(message.flags)})`);
    return ok(`${uid ? "UID " : ""}STORE completed`);
  }

  private async search(t: Token[], uid: boolean): Promise<Reply> {
    const matcher = compileSearch(t);
    const found: number[] = [];
    const maxUid = this.view.at(-1) ?? 0;
    const box = this.box!;
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

  private async copy(name: string, set: string, target: string, uid: boolean): Promise<Reply> {
    if (!isInbox(target)) return no("[TRYCREATE] Only INBOX exists");
    const sources = this.resolve(set, uid);
    const fromUids: number[] = [];
    const toUids: number[] = [];
    for (const { message } of sources) {
      fromUids.push(message.uid);
      toUids.push(await this.box!.deliver(await this.box!.read(message.uid)));
    }
    if (name === "MOVE") {
      await this.box!.expunge(fromUids);
      this.sync(true);
    }
    return ok(`[COPYUID ${this.box!.uidValidity} ${fromUids.join(",")} ${toUids.join(",")}] ${name} completed`);
  }

  private async expunge(uidSet: string | undefined): Promise<Reply> {
    if (this.readOnly) return no("Mailbox is read-only");
    const box = this.box!;
    const match = uidSet ? parseSequenceSet(uidSet, Math.max(this.view.at(-1) ?? 1, 1)) : () => true;
    await box.expunge(box.messages.filter((m) => m.flags.has("\\Deleted") && match(m.uid)).map((m) => m.uid));
    this.sync(true);
    return ok("EXPUNGE completed");
  }

  /** Tells the client about expunged (when allowed) and new messages. */
  private sync(allowExpunge: boolean): void {
    const box = this.box;
    if (!box) return;
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

function isInbox(name: string): boolean {
  return name.toUpperCase() === "INBOX";
}
