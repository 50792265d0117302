/**
 * Which probe speaks to which port, by the port's name in the role catalogue
 * (contracts/roles.ts). A port no probe knows gets a plain TCP connect.
 */
import { connect } from "node:net";
import { dnsProbe } from "./dns";
import { gameProbe } from "./game";
import { httpProbe } from "./http";
import { ftpsProbe, greetingProbe, smtpProbe } from "./lines";
import { monitorProbe, postgresProbe } from "./postgres";
import { sshProbe } from "./ssh";
import type { Probe, ProbeTarget } from "./types";

export type { FailureReason, Probe, ProbeContext, ProbeOutcome, ProbeTarget } from "./types";

const tcpConnectProbe: Probe = (target, ctx) =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: target.address, port: target.port.port }, () => {
      socket.end();
      resolve({ ok: true, detail: "TCP connect" });
    });
    ctx.signal.addEventListener("abort", () => socket.destroy(), { once: true });
    socket.on("error", reject);
  });

export function probeFor(target: ProbeTarget): { kind: string; probe: Probe } {
  const viaProxy = target.role === "proxy";
  if (target.site !== undefined) return { kind: "customer-site", probe: httpProbe(true, true) };
  switch (target.port.name) {
    case "http":
      return { kind: viaProxy ? "http-via-proxy" : "http", probe: httpProbe(false, viaProxy) };
    case "https":
      return { kind: viaProxy ? "https-via-proxy" : "https", probe: httpProbe(true, viaProxy) };
    case "dns":
    case "dns-tcp":
      return { kind: `dns-${target.port.protocol}`, probe: dnsProbe };
    case "smtp":
    case "submission":
      return { kind: "smtp-ehlo", probe: smtpProbe };
    case "imaps":
      return { kind: "imap-greeting", probe: greetingProbe(/^\* (OK|PREAUTH)/, true) };
    case "pop3s":
      return { kind: "pop3-greeting", probe: greetingProbe(/^\+OK/, true) };
    case "ftp":
      return { kind: "ftp-auth-tls", probe: ftpsProbe };
    case "sftp":
      return { kind: "ssh-handshake", probe: sshProbe };
    case "postgres":
      return target.part === "monitor" ? { kind: "postgres-answers", probe: monitorProbe } : { kind: "sql-select-1", probe: postgresProbe };
    case "game":
      return { kind: "websocket-join", probe: gameProbe };
    case "noc":
      return { kind: "http", probe: httpProbe(false, false) };
    default:
      return { kind: "tcp-connect", probe: tcpConnectProbe };
  }
}
