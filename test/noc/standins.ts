/**
 * STAND-INS for roles whose servers are built by other areas: the smallest servers that
 * speak enough of each protocol for the NOC's probes (greetings, an SOA answer, a
 * PostgreSQL `SELECT 1`, an explicit-FTPS control connection). Where a real server library is at hand it is used instead:
 * the game server itself, smtp-server for SMTP, ssh2's Server for SSH, node:http for HTTP.
 */
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createHttpsServer } from "node:https";
import { createSecureContext, createServer as createTlsServer, TLSSocket } from "node:tls";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import * as packet from "dns-packet";
import { SMTPServer } from "smtp-server";
import ssh2 from "ssh2";

export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

const portOf = (s: Server | HttpServer) => (s.address() as AddressInfo).port;
const listen = async <S extends Server | HttpServer>(s: S): Promise<S> => {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return s;
};
const closer = (s: Server | HttpServer) => () =>
  new Promise<void>((r) => {
    s.close(() => r());
    (s as HttpServer).closeAllConnections?.();
  });

/** A throwaway CA and a server certificate for 127.0.0.1, localhost and `names`, made with openssl. */
export function makeCertificates(names: readonly string[] = []): { ca: Buffer; cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "noc-pki-"));
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=test CA",
  ]);
  run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=mail-0"]);
  writeFileSync(join(dir, "ext.cnf"), `subjectAltName=${["IP:127.0.0.1", "DNS:localhost", ...names.map((n) => `DNS:${n}`)].join(",")}\n`);
  run(["x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tls.crt", "-days", "2", "-extfile", "ext.cnf"]);
  return { ca: readFileSync(join(dir, "ca.crt")), cert: readFileSync(join(dir, "tls.crt")), key: readFileSync(join(dir, "tls.key")) };
}

/** {@link makeCertificates} written to files (servers that take paths), with the CA's PEM and the SPKI pin of the key. */
export function certificateFiles(names: readonly string[] = []): { certFile: string; keyFile: string; ca: Buffer; caFile: string; spki: string } {
  const pki = makeCertificates(names);
  const dir = mkdtempSync(join(tmpdir(), "noc-tls-"));
  writeFileSync(join(dir, "tls.crt"), pki.cert);
  writeFileSync(join(dir, "tls.key"), pki.key, { mode: 0o600 });
  writeFileSync(join(dir, "ca.crt"), pki.ca);
  const spki = createHash("sha256")
    .update(createPublicKey(pki.key).export({ type: "spki", format: "der" }))
    .digest("base64");
  return { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key"), ca: pki.ca, caFile: join(dir, "ca.crt"), spki };
}

/** HTTP stand-in for web/proxy: answers `status` and echoes the Host header. */
export async function httpStandIn(status = 200): Promise<Running & { hosts: string[] }> {
  const hosts: string[] = [];
  const s = await listen(
    createHttpServer((req, res) => {
      hosts.push(req.headers.host ?? "");
      res.writeHead(status, { "content-type": "text/plain" }).end("hello\n");
    }),
  );
  return { port: portOf(s), hosts, close: closer(s) };
}

/** HTTPS stand-in for the proxy: answers 200 and records the SNI name and Host header of each request. */
export async function httpsStandIn(tls: { cert: Buffer; key: Buffer }): Promise<Running & { seen: { sni: string | false | null; host: string }[] }> {
  const seen: { sni: string | false | null; host: string }[] = [];
  const s = await listen(
    createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      seen.push({ sni: (req.socket as TLSSocket).servername, host: req.headers.host ?? "" });
      res.writeHead(200, { "content-type": "text/plain" }).end("hello\n");
    }),
  );
  return { port: portOf(s), seen, close: closer(s) };
}

/**
 * STAND-IN explicit-FTPS server (RFC 4217 control connection only): 220 greeting (multi-line,
 * as RFC 959 §4.2 allows), `AUTH TLS` → 234 and the TLS handshake on the same connection,
 * then `QUIT` → 221 over TLS. `mode` makes it misbehave: refuse AUTH TLS (502), or inject a
 * line in clear right after its 234 (what a man in the middle would do).
 */
export async function ftpsStandIn(tls: { cert: Buffer; key: Buffer }, mode: "ok" | "no-tls" | "inject" = "ok"): Promise<Running & { commands: string[] }> {
  const commands: string[] = [];
  const context = createSecureContext({ cert: tls.cert, key: tls.key });
  const sockets = new Set<Socket>();
  const s = await listen(
    createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.write("220-serverpark test FTP (stand-in)\r\n welcome\r\n220 ready\r\n");
      let buf = "";
      const onData = (chunk: Buffer) => {
        buf += chunk.toString("latin1");
        const i = buf.indexOf("\r\n");
        if (i < 0) return;
        const command = buf.slice(0, i);
        buf = buf.slice(i + 2);
        commands.push(command);
        if (command.toUpperCase() !== "AUTH TLS" || mode === "no-tls") {
          socket.write(command.toUpperCase() === "QUIT" ? "221 bye\r\n" : "502 command not implemented\r\n");
          return;
        }
        socket.off("data", onData);
        socket.write(mode === "inject" ? "234 go ahead\r\n221 injected in clear\r\n" : "234 go ahead\r\n");
        const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
        secure.on("error", () => undefined);
        let line = "";
        secure.on("data", (d: Buffer) => {
          line += d.toString("latin1");
          for (let j = line.indexOf("\r\n"); j >= 0; j = line.indexOf("\r\n")) {
            const c = line.slice(0, j);
            line = line.slice(j + 2);
            commands.push(`tls:${c}`);
            if (c.toUpperCase() === "QUIT") secure.end("221 goodbye\r\n");
            else secure.write("530 please log in\r\n");
          }
        });
      };
      socket.on("data", onData);
    }),
  );
  return {
    port: portOf(s),
    commands,
    close: async () => {
      for (const x of sockets) x.destroy();
      await closer(s)();
    },
  };
}

/** SMTP with the smtp-server library (what the mail role builds on). */
export async function smtpServer(): Promise<Running> {
  const server = new SMTPServer({ disableReverseLookup: true, authOptional: true, banner: "test mail", disabledCommands: ["STARTTLS"] });
  server.on("error", () => undefined);
  const s = server.server as unknown as Server;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: portOf(s), close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Stand-in: a server that sends `greeting` on connect (IMAP/POP3 over TLS, FTP in clear). */
export async function greetingStandIn(greeting: string, tls?: { cert: Buffer; key: Buffer }): Promise<Running> {
  const onConnection = (socket: Socket) => {
    socket.on("error", () => undefined);
    socket.write(`${greeting}\r\n`);
    socket.on("data", () => socket.end());
  };
  const s = await listen(tls ? createTlsServer({ cert: tls.cert, key: tls.key }, onConnection) : createTcpServer(onConnection));
  return { port: portOf(s), close: closer(s) };
}

/** A server that accepts and never says a word: every probe of it must time out. */
export async function silentServer(): Promise<Running> {
  const sockets = new Set<Socket>();
  const s = await listen(
    createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
    }),
  );
  return {
    port: portOf(s),
    close: async () => {
      for (const x of sockets) x.destroy();
      await closer(s)();
    },
  };
}

/** SSH with ssh2's Server (what the file role builds on); no login ever succeeds. */
export async function sshServer(): Promise<Running> {
  const { private: hostKey } = ssh2.utils.generateKeyPairSync("ed25519");
  const server = new ssh2.Server({ hostKeys: [hostKey], ident: "serverpark-test" }, (client) => {
    client.on("authentication", (ctx) => ctx.reject());
    client.on("error", () => undefined);
  });
  const s = server as unknown as Server;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: portOf(s), close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Stand-in DNS server (dns-packet, UDP + TCP on the same port number): authoritative SOA for `zone`. */
export async function dnsStandIn(zone: string): Promise<Running> {
  const answer = (q: packet.DecodedPacket): Buffer =>
    packet.encode({
      type: "response",
      id: q.id,
      flags: packet.AUTHORITATIVE_ANSWER,
      questions: q.questions,
      answers: [
        {
          type: "SOA",
          name: zone,
          ttl: 60,
          data: { mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 2026112701, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
        },
      ],
    });
  const tcp = await listen(
    createTcpServer((socket) => {
      socket.on("error", () => undefined);
      socket.on("data", (data: Buffer) => socket.end(packet.streamEncode(packet.decode(answer(packet.streamDecode(data) as packet.DecodedPacket)))));
    }),
  );
  const udp: UdpSocket = createSocket("udp4");
  udp.on("message", (msg, rinfo) => udp.send(answer(packet.decode(msg)), rinfo.port, rinfo.address));
  await new Promise<void>((r) => udp.bind(portOf(tcp), "127.0.0.1", () => r()));
  return {
    port: portOf(tcp),
    close: async () => {
      udp.close();
      await closer(tcp)();
    },
  };
}

/**
 * Stand-in PostgreSQL: the startup exchange and one simple query, in the real wire format
 * (protocol 3.0), answering `SELECT 1` with one row — or refusing the login (SQLSTATE 28P01).
 * With `tls` it answers the SSLRequest with "S" and continues over TLS, as the db role does.
 */
export async function postgresStandIn(refuseLogin = false, tls?: { cert: Buffer; key: Buffer }): Promise<Running> {
  const context = tls ? createSecureContext({ cert: tls.cert, key: tls.key }) : undefined;
  const msg = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, "latin1");
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const int16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  const cstr = (s: string) => Buffer.from(`${s}\0`);
  const ready = msg("Z", Buffer.from("I"));
  const s = await listen(
    createTcpServer(function serve(socket: Socket) {
      socket.on("error", () => undefined);
      let started = false;
      let buf = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          if (!started) {
            if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return;
            const code = buf.readInt32BE(4);
            buf = buf.subarray(buf.readInt32BE(0));
            if (code === 80877103) {
              // SSLRequest: with a certificate, "S" and the handshake on the same connection.
              if (!context || socket instanceof TLSSocket) {
                socket.write("N");
                continue;
              }
              socket.off("data", onData);
              socket.write("S");
              serve(new TLSSocket(socket, { isServer: true, secureContext: context }));
              return;
            }
            started = true;
            if (refuseLogin) {
              socket.end(msg("E", Buffer.concat([cstr("SFATAL"), cstr("C28P01"), cstr('Mpassword authentication failed for user "noc"'), Buffer.from([0])])));
              return;
            }
            socket.write(
              Buffer.concat([
                msg("R", int32(0)),
                msg("S", Buffer.concat([cstr("server_version"), cstr("15.0 (stand-in)")])),
                msg("K", Buffer.concat([int32(1), int32(2)])),
                ready,
              ]),
            );
            continue;
          }
          if (buf.length < 5 || buf.length < 1 + buf.readInt32BE(1)) return;
          const type = String.fromCharCode(buf[0]!);
          buf = buf.subarray(1 + buf.readInt32BE(1));
          if (type === "X") {
            socket.end();
            return;
          }
          if (type === "Q") {
            const field = Buffer.concat([cstr("one"), int32(0), int16(0), int32(23), int16(4), int32(-1), int16(0)]);
            socket.write(
              Buffer.concat([
                msg("T", Buffer.concat([int16(1), field])),
                msg("D", Buffer.concat([int16(1), int32(1), Buffer.from("1")])),
                msg("C", cstr("SELECT 1")),
                ready,
              ]),
            );
          }
        }
      };
      socket.on("data", onData);
    }),
  );
  return { port: portOf(s), close: closer(s) };
}
