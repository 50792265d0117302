/**
 * One IMAP4rev1 connection (RFC 3501): the state machine (not authenticated -> authenticated
 * -> selected), every command real clients need, IDLE, and the untagged EXISTS/EXPUNGE
 * updates that keep a session's view of INBOX in step with deliveries and other sessions.
 * Each user's account has INBOX, the standard folders and their own (../account.ts). This
 * file holds the connection, login and dispatch; the commands on folders are in folders.ts,
 * the selected state's commands and the session's view of a folder in selected.ts.
 */
import type { Socket } from "node:net";
import type { Logger } from "../../../runtime/log";
import type { Authenticator } from "../../../runtime/auth";
import type { MailStore } from "../store";
import { closeGracefully, ConnectionGuard, whenWritable, type AddressCounter } from "../connection";
import type { MailLimits } from "../limits";
import { FolderCommands } from "./folders";
import { asString, CommandReader, ImapSyntaxError, tokenize, type RawCommand, type Token } from "./parser";
import { no, ok, type Reply } from "./reply";
import { SelectedMailbox } from "./selected";

export interface ImapDeps {
  readonly store: MailStore;
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly maxMessageBytes: number;
  readonly limits: MailLimits;
  /** Connections of this listener that have not logged in yet. */
  readonly preAuth: AddressCounter;
}

const CAPS = "IMAP4rev1 LITERAL+ IDLE UIDPLUS UNSELECT NAMESPACE ID CHILDREN SPECIAL-USE QUOTA QUOTA=RES-STORAGE AUTH=PLAIN";
const FLAGS = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)";
/** Consecutive protocol errors after which the client is disconnected. */
const MAX_ERRORS = 50;

export class ImapSession {
  private readonly reader: CommandReader;
  private readonly guard: ConnectionGuard<RawCommand>;
  private user: string | undefined;
  /** The logged-in user's folders. */
  private folders: FolderCommands | undefined;
  /** The selected mailbox (SELECT or EXAMINE), if any. */
  private selected: SelectedMailbox | undefined;
  private idleTag: string | undefined;
  private authTag: string | undefined;
  private errors = 0;
  private readonly onChange = () => {
    if (this.idleTag) this.sync(true);
  };

  constructor(
    private readonly socket: Socket,
    private readonly deps: ImapDeps,
  ) {
    // Before login a literal can only be a user name or password: a few KiB. After it, a
    // literal may be one message (APPEND).
    this.reader = new CommandReader(
      () => (this.user ? deps.maxMessageBytes : deps.limits.preAuthLiteralBytes),
      () => this.send("+ Ready for literal data"),
    );
    this.guard = new ConnectionGuard<RawCommand>(socket, deps.limits, deps.limits.imapIdleMs, deps.preAuth, {
      run: (command) =>
        this.run(command.text, command.literals).catch((error: unknown) => {
          this.deps.log.error({ err: error }, "imap command failed");
          this.bye("Internal error");
        }),
      bye: (reason) =>
        this.bye(
          reason === "deadline"
            ? `Autologout: log in within ${Math.round(deps.limits.preAuthMs / 1000)} s`
            : reason === "budget"
              ? "Too many commands before login"
              : "Autologout; idle for too long",
        ),
    });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.deselect());
    socket.on("error", () => undefined);
    if (this.guard.open) this.send(`* OK [CAPABILITY ${CAPS}] Serverpark IMAP ready`);
  }

  private send(line: string): void {
    if (!this.socket.destroyed) this.socket.write(`${line}\r\n`, "latin1");
  }

  private bye(text: string): void {
    this.send(`* BYE ${text}`);
    closeGracefully(this.socket);
  }

  private onData(chunk: Buffer): void {
    if (!this.socket.writable) return;
    try {
      // Commands run one after another (a slow FETCH must not let a later STORE overtake
      // it), and the socket is not read meanwhile.
      this.guard.accept(this.reader.push(chunk));
    } catch (error) {
      this.bye(`Protocol error: ${(error as Error).message}`);
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
    if (name === "LOGOUT") closeGracefully(this.socket);
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
        return this.folders!.list(name, asString(t[0], "reference"), asString(t[1], "pattern"));
      case "NAMESPACE":
        this.send('* NAMESPACE (("" "/")) NIL NIL');
        return ok("NAMESPACE completed");
      case "STATUS":
        return this.folders!.status(asString(t[0], "mailbox"), t[1]);
      case "SUBSCRIBE":
      case "UNSUBSCRIBE":
        return this.folders!.subscribe(name, asString(t[0], "mailbox"));
      case "CREATE":
      case "DELETE":
      case "RENAME":
        return this.folders!.change(name, t);
      case "GETQUOTA":
      case "GETQUOTAROOT":
        return this.folders!.quota(name, asString(t[0], "quota root"));
      case "SETQUOTA":
        return no("[NOPERM] Quotas come from the hosting plan");
      case "APPEND": {
        const reply = await this.folders!.append(t);
        this.sync(false);
        return reply;
      }
    }
    const selected = this.selected;
    if (!selected) return { status: "BAD", text: `${name} needs a selected mailbox` };
    switch (name) {
      case "FETCH":
        return selected.fetch(asString(t[0], "sequence set"), t[1], uid);
      case "STORE":
        return selected.storeFlags(asString(t[0], "sequence set"), asString(t[1], "store action"), t.slice(2), uid);
      case "SEARCH":
        return selected.search(t, uid);
      case "COPY":
      case "MOVE":
        return selected.copy(name, asString(t[0], "sequence set"), asString(t[1], "mailbox"), uid);
      case "EXPUNGE":
        return selected.expunge(uid ? asString(t[0], "uid set") : undefined);
      case "CLOSE":
        await selected.close();
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
    this.folders = new FolderCommands(this.deps.store.account(result.user), (line) => this.send(line));
    this.guard.loggedIn();
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
    const account = this.deps.store.account(this.user!);
    const box = account.folder(name);
    if (!box) return no("[NONEXISTENT] No such mailbox");
    this.selected = new SelectedMailbox(
      box,
      readOnly,
      (line) => this.send(line),
      () => whenWritable(this.socket, this.deps.limits.writeHighWater),
      (target) => account.folder(target),
    );
    box.on("change", this.onChange);
    this.send(`* FLAGS ${FLAGS}`);
    this.send(`* OK [PERMANENTFLAGS ${readOnly ? "()" : "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)"}] Flags permitted`);
    this.send(`* ${this.selected.size} EXISTS`);
    this.send("* 0 RECENT");
    const unseen = box.messages.findIndex((m) => !m.flags.has("\\Seen"));
    if (unseen >= 0) this.send(`* OK [UNSEEN ${unseen + 1}] First unseen`);
    this.send(`* OK [UIDVALIDITY ${box.uidValidity}] UIDs valid`);
    this.send(`* OK [UIDNEXT ${box.uidNext}] Predicted next UID`);
    return ok(`[${readOnly ? "READ-ONLY" : "READ-WRITE"}] ${readOnly ? "EXAMINE" : "SELECT"} completed`);
  }

  private deselect(): void {
    this.selected?.box.off("change", this.onChange);
    this.selected = undefined;
  }

  /** Tells the client about expunged (when allowed) and new messages, when a mailbox is selected. */
  private sync(allowExpunge: boolean): void {
    this.selected?.sync(allowExpunge);
  }
}
