/**
 * The SSH listener in front of ssh2 (which does SSH itself): our own TCP server hands each
 * socket to ssh2 (`injectSocket`) only after the per-address cap, and arms the
 * pre-authentication deadline on the raw socket, so a client that never sends a byte is
 * dropped too. Per connection: password attempts and sessions are capped, and `SocketFlow`
 * bounds the SFTP work in flight and pauses reading while replies wait for a client that
 * does not read them.
 */
import { createServer, type Server as NetServer, type Socket } from "node:net";
import ssh2 from "ssh2";
import type { FileLimits } from "./limits";
import { plainIp } from "./passive";
import { serveSftp, type SftpDeps } from "./sftp";
import { offerLimits } from "./sftpLimits";
import { BufferPool } from "./sftpWire";
import type { UserTree } from "./tree";

const { Server, utils } = ssh2;
/** ssh2's SFTP refuses longer packets (OPENSSH_MAX_PKT_LEN in ssh2 1.x). */
const SFTP_MAX_PACKET = 256 * 1024;
type ParsedKey = ssh2.ParsedKey;

/** Parses OpenSSH public keys; one that does not parse is left out (and named in the returned list). */
export function parsePublicKeys(keys: readonly string[]): { keys: ParsedKey[]; bad: string[] } {
  const out: ParsedKey[] = [];
  const bad: string[] = [];
  for (const text of keys) {
    const parsed = utils.parseKey(text);
    if (parsed instanceof Error || Array.isArray(parsed)) bad.push(text.slice(0, 40));
    else out.push(parsed);
  }
  return { keys: out, bad };
}

/** Requests, and bytes of WRITE data, waiting on one connection beyond which it is dropped (SocketFlow). */
const WAITING_MAX = 1024;
const WAITING_BYTES_MAX = 8 * 1024 * 1024;

/**
 * One SSH connection's SFTP work: at most `limits.sftpInflight` requests (and
 * `limits.sftpBytesInFlight` bytes of READs and WRITEs) run at once, and none
 * starts while more than `limits.unsentBytes` of replies wait for the client (the rest wait in
 * order); at most `limits.sftpHandles` handles are open; and the socket is not read while
 * requests wait, so what a client can pile up is bounded by one read from the socket.
 * Except while ssh2 holds replies for the client's SSH window: then the client's WINDOW_ADJUST
 * must still be read (a paused socket would never see it). Either way a client with more than
 * WAITING_MAX requests or WAITING_BYTES_MAX bytes of WRITE data waiting is disconnected (with the
 * socket paused, only requests that arrived in one read can pile up).
 */
export class SocketFlow {
  handles = 0;
  /** Bytes of read-ahead the connection's open files may hold (at most limits.sftpReadAheadBytes). */
  readAheadBytes = 0;
  /** Reused DATA reply buffers (sftpWire.ts), at most limits.sftpBytesInFlight kept. */
  readonly replies: BufferPool;
  private running = 0;
  private runningBytes = 0;
  private waitingBytes = 0;
  private readonly waiting: { fn: () => Promise<void>; bytes: number; held: number }[] = [];
  private paused = false;
  private corked = false;
  private retry: NodeJS.Timeout | undefined;
  /** Bytes each SFTP channel holds back because the client's SSH window is closed. */
  private readonly held = new Set<() => number>();

  constructor(
    private readonly socket: Socket,
    readonly limits: FileLimits,
  ) {
    this.replies = new BufferPool(limits.sftpBytesInFlight);
    socket.on("drain", () => this.pump());
    // A WINDOW_ADJUST may have let ssh2 send what it held: look again once ssh2 has read it.
    socket.on("data", () => {
      if (this.waiting.length > 0) process.nextTick(() => this.pump());
    });
  }

  /**
   * Replies written from now until the event loop moves on leave together: ssh2 writes every SSH
   * packet on its own (two per 32 KiB DATA reply), and the READs a read-ahead piece answers
   * finish in the same turn, so corking until setImmediate makes one writev of many writes.
   */
  coalesce(): void {
    if (this.corked || this.socket.destroyed) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  /**
   * Runs `fn` when a slot is free, the client has read our earlier replies and the `bytes` it
   * moves (a READ's size, a WRITE's data) fit in limits.sftpBytesInFlight beside the running ones.
   * `carried`: the bytes are in memory while the request waits (a WRITE's data; not a READ's size).
   */
  run(fn: () => Promise<void>, bytes = 0, carried = false): void {
    const held = carried ? bytes : 0;
    this.waiting.push({ fn, bytes, held });
    this.waitingBytes += held;
    if (this.waiting.length > WAITING_MAX || this.waitingBytes > WAITING_BYTES_MAX) return void this.socket.destroy();
    this.pump();
  }

  /**
   * Counts what an SFTP channel holds back: ssh2 keeps replies in a private list (`_buffer`,
   * ssh2 1.x) while the client's window is closed, and says nothing when it opens again.
   */
  watch(sftp: object): () => void {
    const held = () => ((sftp as { _buffer?: Buffer[] })._buffer ?? []).reduce((n, b) => n + b.length, 0);
    this.held.add(held);
    return () => {
      this.held.delete(held);
      this.pump();
    };
  }

  private heldBytes(): number {
    let n = 0;
    for (const held of this.held) n += held();
    return n;
  }

  private unsent(): number {
    return this.socket.writableLength + this.heldBytes();
  }

  private fits(bytes: number): boolean {
    return this.running === 0 || this.runningBytes + bytes <= this.limits.sftpBytesInFlight;
  }

  private pump(): void {
    const { sftpInflight, unsentBytes } = this.limits;
    while (this.waiting.length > 0 && this.running < sftpInflight && this.unsent() <= unsentBytes && this.fits(this.waiting[0]!.bytes)) {
      const { fn, bytes, held } = this.waiting.shift()!;
      this.waitingBytes -= held;
      this.running++;
      this.runningBytes += bytes;
      void fn().finally(() => {
        this.running--;
        this.runningBytes -= bytes;
        this.pump();
      });
    }
    // Replies wait for the client's window: look again shortly (ssh2 emits no event for it).
    if (this.waiting.length > 0 && this.running < sftpInflight && this.fits(this.waiting[0]!.bytes) && !this.retry && !this.socket.destroyed) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.pump();
      }, 50);
    }
    const over =
      this.heldBytes() > 0
        ? this.socket.writableLength > unsentBytes
        : this.waiting.length > 0 || this.running >= sftpInflight || this.socket.writableLength > unsentBytes;
    if (over && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!over && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }
}

export interface SshDeps extends SftpDeps {
  readonly hostKey: string | Buffer;
  /** Public keys that log a user in (hosting customers' accounts: contracts/views/file.ts). */
  readonly publicKeys?: ReadonlyMap<string, readonly ParsedKey[]>;
  readonly limits: FileLimits;
}

interface Connection {
  readonly flow: SocketFlow;
  authenticated: boolean;
}

/** Sends `exit-status` on an SFTP session's channel (ssh2 1.x keeps the channel's protocol and id private). */
function exitStatus(sftp: object, code: number): void {
  const channel = sftp as { _protocol?: { exitStatus?(id: number, code: number): void }; outgoing?: { id: number; state: string } };
  if (channel.outgoing?.state === "open") channel._protocol?.exitStatus?.(channel.outgoing.id, code);
}

/** The SSH/SFTP server; `listen`, `address` and `close` as on any net.Server. */
export function createSshServer(deps: SshDeps): NetServer {
  const { limits } = deps;
  const perIp = new Map<string, number>();
  const connections = new Map<string, Connection>();
  const ssh = new Server({ hostKeys: [deps.hostKey], ident: "Serverpark-SFTP" }, (client, info) => {
    const conn = connections.get(`${info.ip}:${info.port}`);
    if (!conn) return client.end();
    let tree: UserTree | undefined;
    let attempts = 0;
    let sessions = 0;
    client.on("authentication", (ctx) => {
      if (++attempts > limits.sshAuthAttempts) return void client.end();
      const methods: ssh2.AuthenticationType[] = deps.publicKeys && deps.publicKeys.size > 0 ? ["publickey", "password"] : ["password"];
      if (ctx.method === "publickey" && deps.publicKeys) {
        // The key must be one of the user's; with a signature, it must verify (RFC 4252 7).
        const key = deps.publicKeys.get(ctx.username)?.find((k) => k.getPublicSSH().equals(ctx.key.data));
        const userTree = key ? deps.trees.get(ctx.username) : undefined;
        if (!key || !userTree) return ctx.reject(methods);
        if (!ctx.signature) return ctx.accept(); // the client asks whether this key would do
        if (key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(methods);
        tree = userTree;
        conn.authenticated = true;
        return ctx.accept();
      }
      if (ctx.method !== "password") return ctx.reject(methods);
      deps.auth.login(plainIp(info.ip), ctx.username, ctx.password).then(
        (result) => {
          tree = result.ok ? deps.trees.get(result.user) : undefined;
          if (tree) {
            conn.authenticated = true;
            ctx.accept();
          } else ctx.reject(methods);
        },
        () => ctx.reject(),
      );
    });
    client.on("ready", () => {
      client.on("session", (accept, reject) => {
        if (++sessions > limits.sshSessions) return reject();
        const session = accept();
        session.on("sftp", (acceptSftp) => {
          const sftp = acceptSftp();
          offerLimits(sftp, {
            packetBytes: SFTP_MAX_PACKET,
            readBytes: limits.sftpReadBytes,
            writeBytes: limits.sftpReadBytes,
            openHandles: limits.sftpHandles,
          });
          // OpenSSH's scp (SFTP mode since 9.0) judges a transfer by the session's exit status,
          // which a subsystem never sets by itself: 0 when the client ends the session.
          sftp.once("end", () => exitStatus(sftp, 0));
          serveSftp(sftp, tree!, deps, conn.flow);
        });
        for (const what of ["exec", "shell", "pty", "x11", "auth-agent"] as const) {
          session.on(what as "exec", (_accept: unknown, rejectIt?: () => void) => rejectIt?.());
        }
      });
    });
    client.on("error", (error) => deps.log.debug({ err: error, ip: info.ip }, "ssh client error"));
  });
  ssh.on("error", (error: Error) => deps.log.warn({ err: error }, "ssh server error"));

  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    const ip = plainIp(socket.remoteAddress);
    const open = perIp.get(ip) ?? 0;
    if (open >= limits.sshConnectionsPerIp) return void socket.destroy();
    perIp.set(ip, open + 1);
    // SFTP is request/response: with Nagle on, every small reply waits for the client's
    // delayed ACK (~200 ms per small file in bench/file; OpenSSH sets TCP_NODELAY too).
    socket.setNoDelay(true);
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const conn: Connection = { flow: new SocketFlow(socket, limits), authenticated: false };
    connections.set(key, conn);
    const deadline = setTimeout(() => {
      if (!conn.authenticated) socket.destroy();
    }, limits.preAuthSeconds * 1000);
    deadline.unref();
    socket.once("close", () => {
      clearTimeout(deadline);
      connections.delete(key);
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
    ssh.injectSocket(socket);
  });
  return server;
}
