/**
 * One session's passive data channel: PASV/EPSV reserve a port from the shared range
 * (../passive.ts: the caps and the address a PASV reply names), the client's connection
 * arrives on it, and a transfer takes it — after "150" was sent — waiting for it if it has not
 * come yet and then for its TLS handshake under PROT P.
 */
import { isIPv4, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { TLSSocket, type SecureContext } from "node:tls";
import type { PassiveOwner, PassivePorts } from "../passive";
import { FtpError } from "./replies";

/** How long a reserved passive port waits for the client's data connection. */
export const DATA_CONNECT_MS = 20_000;

/** What a transfer shares with its data connection: the socket (to destroy on ABOR) and whether it was aborted. */
export interface DataUse {
  data?: Duplex;
  readonly aborted: boolean;
}

export class DataChannel<O extends PassiveOwner> {
  /** The passive data connection, once it arrived (or a waiter for it). */
  private socket: Socket | undefined;
  private waiter: ((socket: Socket) => void) | undefined;
  private cancel: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly owner: O,
    private readonly passive: PassivePorts<O>,
    /** The address the client reached us on, and the client's own. */
    private readonly localIp: string,
    private readonly clientIp: string,
    /** The control connection is closing: a data connection arriving now is dropped. */
    private readonly closing: () => boolean,
  ) {}

  /** PASV (`extended` false) or EPSV: reserves a passive port and gives the reply naming it. */
  enterPassive(extended: boolean, arg: string): [number, string] {
    if (extended && arg.trim().toUpperCase() === "ALL") return [200, "EPSV ALL accepted"];
    if (extended && arg.trim() && arg.trim() !== "1" && arg.trim() !== "2") throw new FtpError(501, "Unknown network protocol");
    if (extended && arg.trim() === "2" && isIPv4(this.localIp)) throw new FtpError(522, "Network protocol not supported, use (1)");
    // The address the client reached us on (behind NAT: our planned address on its network),
    // never the wildcard the server listens on.
    const address = extended ? this.localIp : this.passive.addressFor(this.localIp, this.clientIp);
    if (!extended && !isIPv4(address)) throw new FtpError(425, "PASV needs IPv4; use EPSV");
    this.drop();
    const reservation = this.passive.reserve(this.owner);
    // 425 (RFC 959 "Can't open data connection"): a transient refusal the client may retry;
    // 421 would close the control connection, and RFC 959 gives PASV no better code.
    if (!reservation.ok) {
      throw new FtpError(
        425,
        reservation.reason === "full"
          ? "No passive port free; try again shortly"
          : `Too many open data connections ${reservation.reason === "user" ? `for ${this.owner.user}` : "from your address"} (at most ${reservation.limit}); try again shortly`,
      );
    }
    const port = reservation.port;
    this.timer = setTimeout(() => this.passive.release(this.owner), DATA_CONNECT_MS);
    this.timer.unref();
    if (extended) return [229, `Entering Extended Passive Mode (|||${port}|)`];
    return [227, `Entering Passive Mode (${address.split(".").join(",")},${port >> 8},${port & 255})`];
  }

  /** The client's data connection, from the passive listener. */
  arrived(socket: Socket): void {
    clearTimeout(this.timer);
    if (this.closing()) return void socket.destroy();
    socket.on("error", () => undefined);
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter(socket);
    } else {
      this.socket?.destroy();
      this.socket = socket;
    }
  }

  /** A data connection is there, or a port is reserved for one. */
  get ready(): boolean {
    return this.socket !== undefined || this.passive.holds(this.owner);
  }

  /** Gives up the reservation (the port is free for others). */
  release(): void {
    this.passive.release(this.owner);
  }

  /** Forgets the reservation and any connection that arrived (a new PASV, or ABOR with no transfer). */
  drop(): void {
    this.passive.release(this.owner);
    clearTimeout(this.timer);
    this.socket?.destroy();
    this.socket = undefined;
    this.waiter = undefined;
  }

  /** The control connection closed. */
  close(): void {
    clearTimeout(this.timer);
    this.passive.release(this.owner);
    this.socket?.destroy();
  }

  /** ABOR (or the control connection closing) while a transfer still waits for the client. */
  cancelWait(): void {
    this.cancel?.();
  }

  /**
   * The data connection for a transfer, after "150" has been sent: waits for the client to
   * connect (if it has not yet) and then, with `tls` (PROT P: the certificate current when
   * the connection is there), for its TLS handshake.
   */
  async open(use: DataUse, tls: (() => SecureContext) | undefined): Promise<Duplex> {
    let socket = this.socket;
    this.socket = undefined;
    if (!socket) {
      socket = await new Promise<Socket>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          this.passive.release(this.owner);
          reject(new FtpError(425, "The data connection did not arrive"));
        }, DATA_CONNECT_MS);
        this.waiter = (s) => (clearTimeout(timer), resolve(s));
        this.cancel = () => {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(new FtpError(426, "Transfer aborted"));
        };
      });
    }
    this.cancel = undefined;
    use.data = socket;
    if (use.aborted) throw new FtpError(426, "Transfer aborted");
    if (!tls) return socket;
    const secure = new TLSSocket(socket, { isServer: true, secureContext: tls() });
    use.data = secure;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new FtpError(425, "TLS handshake on the data connection timed out")), DATA_CONNECT_MS);
      secure.once("secure", () => (clearTimeout(timer), resolve()));
      secure.once("error", (error) => (clearTimeout(timer), reject(new FtpError(425, `TLS handshake on the data connection failed: ${error.message}`))));
      secure.once("close", () => (clearTimeout(timer), reject(new FtpError(426, "Data connection closed"))));
    });
    secure.on("error", () => undefined);
    return secure;
  }
}
