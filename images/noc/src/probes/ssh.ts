/** SSH/SFTP: an ssh2 client completes the key exchange (the server proved it speaks SSH); no login is attempted. */
import { Client } from "ssh2";
import type { Probe } from "./types";

export const sshProbe: Probe = (target, ctx) =>
  new Promise((resolve, reject) => {
    const client = new Client();
    let banner = "";
    ctx.signal.addEventListener("abort", () => client.destroy(), { once: true });
    client.on("handshake", (negotiated) => {
      resolve({ ok: true, detail: `SSH handshake (${banner || "server"}, ${negotiated.kex})` });
      client.destroy();
    });
    client.on("error", (error) => reject(error));
    client.connect({
      host: target.address,
      port: target.port.port,
      username: "noc-probe",
      readyTimeout: ctx.timeoutMs,
      // The handshake resolves first; these only keep ssh2 from attempting any real login.
      authHandler: (_methods, _partial, next) => next(false as never),
      debug: (line: string) => {
        const m = /Remote ident: '([^']+)'/.exec(line);
        if (m) banner = m[1]!;
      },
    });
  });
