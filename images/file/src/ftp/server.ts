/**
 * The FTP listener: the passive port range, the per-address and per-user connection caps,
 * one Session per control connection, and shutdown.
 */
import { createServer, type AddressInfo } from "node:net";
import type { Logger } from "../../../runtime/log";
import type { ReloadingTls } from "../../../runtime/tls";
import type { Authenticator } from "../../../runtime/auth";
import type { FileSettings } from "../../../../contracts/settings/file";
import type { FileLimits } from "../limits";
import { PassivePorts, plainIp, type PlannedAddresses } from "../passive";
import type { UserTree } from "../tree";
import { Session } from "./session";

export interface FtpDeps {
  readonly trees: ReadonlyMap<string, UserTree>;
  readonly auth: Authenticator;
  /** The service certificate; undefined only when TLS is not required (tests of plain FTP). */
  readonly tls: ReloadingTls | undefined;
  readonly settings: FileSettings["ftp"];
  readonly limits: FileLimits;
  readonly passivePorts: { readonly from: number; readonly to: number };
  readonly host: string;
  /**
   * The replica's planned addresses and its networks' CIDRs (replica config): which address a
   * PASV reply names when the server sits behind NAT (see passive.ts). Without them, the
   * control socket's local address.
   */
  readonly planned?: PlannedAddresses;
  readonly log: Logger;
  readonly onUpload?: (bytes: number) => void;
}

export interface FtpServer {
  readonly port: number;
  readonly passivePorts: readonly number[];
  close(): Promise<void>;
}

/** Starts the FTP server and its passive listeners. */
export async function startFtpServer(port: number, deps: FtpDeps): Promise<FtpServer> {
  const { from, to } = deps.passivePorts;
  if (!(from >= 1 && to >= from && to <= 65535 && to - from < 1000)) throw new Error(`bad FTP passive port range ${from}-${to}`);
  const passive = new PassivePorts<Session>(
    Array.from({ length: to - from + 1 }, (_, i) => from + i),
    deps.log,
    deps.planned,
  );
  await passive.listen(deps.host);
  const perIp = new Map<string, number>();
  const perUser = new Map<string, number>();
  const sessions = new Set<Session>();
  const bump = (map: Map<string, number>, key: string, by: number) => {
    const n = (map.get(key) ?? 0) + by;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  };

  const server = createServer((socket) => {
    const ip = plainIp(socket.remoteAddress);
    if ((perIp.get(ip) ?? 0) >= deps.settings.maxConnectionsPerIp) {
      socket.on("error", () => undefined);
      socket.end("421 Too many connections from your address\r\n");
      return;
    }
    bump(perIp, ip, 1);
    let user: string | undefined;
    const session = new Session(
      socket,
      deps,
      passive,
      (name) => {
        if ((perUser.get(name) ?? 0) >= deps.settings.maxConnectionsPerUser) return false;
        user = name;
        bump(perUser, name, 1);
        return true;
      },
      () => {
        sessions.delete(session);
        bump(perIp, ip, -1);
        if (user) bump(perUser, user, -1);
      },
    );
    sessions.add(session);
    session.greet();
  });
  server.on("error", (error) => deps.log.warn({ err: error }, "ftp server error"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, deps.host, () => (server.off("error", reject), resolve()));
  });
  return {
    port: (server.address() as AddressInfo).port,
    passivePorts: passive.ports,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) {
          s.reply(421, "Server shutting down");
          s.end();
        }
      });
      await passive.close();
    },
  };
}
