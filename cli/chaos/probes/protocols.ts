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
      const done = (err?: Error) => {
        signal.removeEventListener("abort", onAbort);
        socket.close();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => done(aborted(signal));
      signal.addEventListener("abort", onAbort, { once: true });
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

/** Reads from a socket until `pattern` matches what arrived (a greeting line). */
function greeting(socket: Socket, pattern: RegExp, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let text = "";
    const done = (err?: Error) => {
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => done(aborted(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (pattern.test(text)) done();
      else if (text.includes("\n")) done(new Error(`unexpected greeting: ${JSON.stringify(text.split("\n")[0]!.slice(0, 80))}`));
    });
    socket.on("error", (err) => done(err));
    socket.on("close", () => done(new Error("connection closed before the greeting")));
  });
}

/** A plain-TCP greeting line (SMTP `220`, SSH `SSH-2.0-`). */
export function tcpGreeting(pattern: RegExp): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  return (e, signal) => greeting(tcpConnect({ host: e.host, port: e.port }), pattern, signal);
}

/** A TLS handshake by name, then the greeting line (IMAPS `* OK`). */
export function tlsGreeting(hostname: string, pattern: RegExp): (e: Endpoint, signal: AbortSignal) => Promise<void> {
  return (e, signal) => greeting(tlsConnect({ host: e.host, port: e.port, servername: hostname, rejectUnauthorized: false }), pattern, signal);
}
