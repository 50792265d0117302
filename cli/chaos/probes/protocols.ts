/**
 * One client attempt per protocol, as a user of the datacenter would make it: each resolves
 * when the service answered as it should and rejects (with why) when it did not, or when the
 * signal aborts (the probe's timeout). Every attempt opens a connection of its own, like a
 * new client; nothing is kept alive between samples.
 *
 * TLS: the datacenter's certificates are issued by its own CA, which a client on the internet
 * side does not have; like `curl -k` in the README, the probes do not verify the chain, but
 * they send the service's name (SNI) and complete the handshake.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createSocket } from "node:dgram";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import * as packet from "dns-packet";
import WebSocket from "ws";

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export type Check = (signal: AbortSignal) => Promise<void>;

const show = (e: Endpoint) => `${e.host}:${e.port}`;

function aborted(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("timed out");
}

/**
 * The one way an attempt ends: `done()` (up) or `done(error)` (down), at most once, closing
 * what it opened; the signal aborting ends it as down.
 */
function ending(signal: AbortSignal, close: () => void, resolve: () => void, reject: (e: Error) => void): (err?: Error) => void {
  let over = false;
  const done = (err?: Error) => {
    if (over) return;
    over = true;
    signal.removeEventListener("abort", onAbort);
    close();
    if (err) reject(err);
    else resolve();
  };
  const onAbort = () => done(aborted(signal));
  signal.addEventListener("abort", onAbort, { once: true });
  return done;
}

/**
 * Tries the endpoints in order, like a client with several addresses (two A records, two name
 * servers): the first that answers will do. Each gets its own share of the time left.
 */
export function anyOf(endpoints: readonly Endpoint[], attempt: (e: Endpoint, signal: AbortSignal) => Promise<void>, perEndpointMs?: number): Check {
  return async (signal) => {
    const errors: string[] = [];
    for (const e of endpoints) {
      if (signal.aborted) break;
      const own = perEndpointMs === undefined ? signal : AbortSignal.any([signal, AbortSignal.timeout(perEndpointMs)]);
      try {
        return await attempt(e, own);
      } catch (err) {
        if (err instanceof SkippedError) throw err;
        errors.push(`${show(e)}: ${(err as Error).message}`);
      }
    }
    throw new Error(errors.join("; ") || aborted(signal).message);
  };
}

/**
 * An HTTP(S) GET by name (Host header and SNI); up when the answer is below 500. `fresh` asks
 * caches on the way for a fresh copy (`Cache-Control: no-cache`, like a browser's reload).
 */
export function httpGet(options: { tls: boolean; hostname: string; path: string; fresh?: boolean }): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  return (e, signal) =>
    new Promise<void>((resolve, reject) => {
      const onResponse = (res: IncomingMessage) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status > 0 && status < 500) resolve();
        else reject(new Error(`HTTP ${status}`));
      };
      const common = {
        host: e.host,
        port: e.port,
        path: options.path,
        method: "GET",
        agent: false as const,
        signal,
        headers: { host: options.hostname, ...(options.fresh ? { "cache-control": "no-cache" } : {}) },
      };
      const req = options.tls
        ? httpsRequest({ ...common, servername: options.hostname, rejectUnauthorized: false }, onResponse)
        : httpRequest(common, onResponse);
      req.on("error", reject);
      req.end();
    });
}

/** A WebSocket opened by name (the server answered 101 and the connection is open). */
export function websocketOpen(options: { tls: boolean; hostname: string; path: string }): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  return (e, signal) =>
    new Promise<void>((resolve, reject) => {
      const url = `${options.tls ? "wss" : "ws"}://${e.host}:${e.port}${options.path}`;
      // ws hands `servername` to tls.connect (its types do not list it): SNI by the name, not the address.
      const clientOptions = { headers: { host: options.hostname }, servername: options.hostname, rejectUnauthorized: false } as WebSocket.ClientOptions;
      const ws = new WebSocket(url, clientOptions);
      const stop = () => ws.terminate();
      signal.addEventListener("abort", stop, { once: true });
      ws.on("open", () => {
        signal.removeEventListener("abort", stop);
        ws.close();
        resolve();
      });
      ws.on("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode ?? 0} instead of a WebSocket`)));
      ws.on("error", (err) => reject(err));
      ws.on("close", () => reject(aborted(signal)));
    });
}

/** An authoritative NOERROR answer with the zone's SOA, over UDP. */
export function dnsSoa(zone: string): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  return (e, signal) =>
    new Promise<void>((resolve, reject) => {
      const id = Math.floor(Math.random() * 65535);
      const socket = createSocket("udp4");
      const done = ending(signal, () => socket.close(), resolve, reject);
      socket.on("error", (err) => done(err));
      socket.on("message", (msg) => {
        try {
          const answer = packet.decode(msg);
          if (answer.id !== id) return;
          const rcode = (answer.flags ?? 0) & 0xf;
          const authoritative = ((answer.flags ?? 0) & packet.AUTHORITATIVE_ANSWER) !== 0;
          if (rcode === 0 && authoritative && answer.answers?.some((a) => a.type === "SOA")) done();
          else done(new Error(`SOA ${zone}: rcode ${rcode}${authoritative ? "" : ", not authoritative"}`));
        } catch (err) {
          done(err as Error);
        }
      });
      // A connected socket hears "port unreachable" as an error instead of waiting out the timeout.
      socket.connect(e.port, e.host, () => socket.send(packet.encode({ type: "query", id, flags: 0, questions: [{ type: "SOA", name: zone, class: "IN" }] })));
    });
}

/**
 * A conversation over one socket, line by line: `onLine` gets each line and calls `done()`
 * (up) or `done(error)` (down); the socket closing first, an error or the signal end it too.
 */
function converse(socket: Socket, signal: AbortSignal, what: string, onLine: (line: string, done: (err?: Error) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let text = "";
    let over = false;
    const end = ending(signal, () => socket.destroy(), resolve, reject);
    const done = (err?: Error) => {
      over = true;
      end(err);
    };
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      for (let nl = text.indexOf("\n"); nl >= 0 && !over; nl = text.indexOf("\n")) {
        const line = text.slice(0, nl).trimEnd();
        text = text.slice(nl + 1);
        onLine(line, done);
      }
    });
    socket.on("error", (err) => done(err));
    socket.on("close", () => done(new Error(`connection closed before ${what}`)));
  });
}

/** Reads the first line from a socket: up when it matches `pattern` (a greeting line). */
function greeting(socket: Socket, pattern: RegExp, signal: AbortSignal): Promise<void> {
  return converse(socket, signal, "the greeting", (line, done) =>
    pattern.test(line) ? done() : done(new Error(`unexpected greeting: ${JSON.stringify(line.slice(0, 80))}`)),
  );
}

/** A plain-TCP greeting line (SMTP `220`, SSH `SSH-2.0-`). */
export function tcpGreeting(pattern: RegExp): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  return (e, signal) => greeting(tcpConnect({ host: e.host, port: e.port }), pattern, signal);
}

/** A TLS handshake by name, then the greeting line (IMAPS `* OK`). */
export function tlsGreeting(hostname: string, pattern: RegExp): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  return (e, signal) => greeting(tlsConnect({ host: e.host, port: e.port, servername: hostname, rejectUnauthorized: false }), pattern, signal);
}

/** An IMAP string literal-free quoted string (the generated passwords are letters and digits). */
const quoted = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/**
 * IMAPS: the TLS handshake by name, the `* OK` greeting, then `LOGIN` with a mailbox's
 * credentials; up only when the server says `a1 OK` (the user's mailbox store answered).
 */
export function imapLogin(hostname: string, user: string, password: string): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  return (e, signal) => {
    const socket = tlsConnect({ host: e.host, port: e.port, servername: hostname, rejectUnauthorized: false });
    let greeted = false;
    return converse(socket, signal, "the login was answered", (line, done) => {
      if (!greeted) {
        if (!/^\* OK/.test(line)) return done(new Error(`unexpected greeting: ${JSON.stringify(line.slice(0, 80))}`));
        greeted = true;
        socket.write(`a1 LOGIN ${quoted(user)} ${quoted(password)}\r\n`);
      } else if (line.startsWith("a1 ")) {
        if (!/^a1 OK/.test(line)) return done(new Error(`login: ${line.slice(3, 80)}`)); // the server's words: no password in them
        socket.write("a2 LOGOUT\r\n");
        done();
      }
    });
  };
}

/** A tick that found a login still under way: it records nothing (see `oneLoginAtATime`). */
export class SkippedError extends Error {
  constructor() {
    super("the previous login is still under way");
    this.name = "SkippedError";
  }
}

/**
 * A login costs CPU on both ends (TLS or SSH key exchange, the server's scrypt), and on a busy
 * machine it can take longer than the 250 ms beat: overlapping logins would pile up and the
 * probes themselves would take the service down. So each tick first only connects (cheap,
 * and it still sees a dead or refusing server at once), and runs the login only when no
 * earlier login to that service is under way; otherwise the tick records nothing
 * (SkippedError) and the earlier login's answer stands for it.
 */
export function oneLoginAtATime(login: (e: Endpoint, signal: AbortSignal) => Promise<void>): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  let busy = false;
  return async (e, signal) => {
    await new Promise<void>((resolve, reject) => {
      const socket = tcpConnect({ host: e.host, port: e.port });
      const done = ending(signal, () => socket.destroy(), resolve, reject);
      socket.on("connect", () => done());
      socket.on("error", (err) => done(err));
    });
    if (busy) throw new SkippedError();
    busy = true;
    try {
      await login(e, signal);
    } finally {
      busy = false;
    }
  };
}
