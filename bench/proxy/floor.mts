/**
 * Reference proxies for `run.ts --floor`: what node:http in front of an upstream client
 * costs with none of our features (no routing, limits, health checks, header sanitising,
 * metrics), so a run shows how much of the proxy's CPU per request is ours and how much the
 * platform's. Run by Node directly (type stripping), never part of the image.
 *
 *   node bench/proxy/floor.mts undici <port> <upstream port>   node:http in, undici Pool.dispatch out
 *   node bench/proxy/floor.mts socket <port> <upstream port>   node:http in, a bare keep-alive socket out
 *
 * The `socket` one is NOT an HTTP client: it understands only a complete Content-Length
 * response (no chunked bodies, 1xx, close-delimited bodies, errors, timeouts or limits).
 * It is the lower bound of any upstream client written in JavaScript on node:net, the best
 * a hand-written client could do, and must never serve anything but this bench.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { Pool } from "undici";

const [mode, port, upstreamPort] = process.argv.slice(2);
const UPSTREAM = { host: "127.0.0.1", port: Number(upstreamPort) };

function viaUndici(): (req: IncomingMessage, res: ServerResponse) => void {
  const pool = new Pool(`http://127.0.0.1:${UPSTREAM.port}`, { connections: 256, pipelining: 1, keepAliveTimeout: 4000, connect: { noDelay: true } });
  return (req, res) => {
    const chunks: Buffer[] = [];
    pool.dispatch(
      { path: req.url ?? "/", method: req.method ?? "GET", headers: req.rawHeaders },
      {
        onRequestStart() {},
        onResponseStart(_c, status, headers) {
          delete headers.connection;
          delete headers["keep-alive"];
          delete headers["transfer-encoding"];
          res.writeHead(status, headers);
        },
        onResponseData: (_c, chunk: Buffer) => void chunks.push(chunk),
        onResponseEnd: () => void res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)),
        onResponseError: () => void res.destroy(),
      },
    );
  };
}

interface Upstream {
  readonly socket: Socket;
  pending?: Buffer | undefined;
  answer?: ((status: number, headers: string[], body: Buffer) => void) | undefined;
}

function viaSocket(): (req: IncomingMessage, res: ServerResponse) => void {
  const idle: Upstream[] = [];
  const open = (): Upstream => {
    const u: Upstream = { socket: connect({ ...UPSTREAM, noDelay: true }) };
    u.socket.on("data", (data: Buffer) => {
      const buf = (u.pending = u.pending ? Buffer.concat([u.pending, data]) : data);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = buf.toString("latin1", 0, end).split("\r\n");
      const headers: string[] = [];
      let length = 0;
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i]!.indexOf(":");
        const name = lines[i]!.slice(0, colon);
        const value = lines[i]!.slice(colon + 1).trim();
        const lower = name.toLowerCase();
        if (lower === "content-length") length = Number(value);
        if (lower !== "connection" && lower !== "keep-alive") headers.push(name, value);
      }
      if (buf.length < end + 4 + length) return;
      u.pending = undefined;
      const answer = u.answer!;
      u.answer = undefined;
      idle.push(u);
      answer(Number(lines[0]!.slice(9, 12)), headers, buf.subarray(end + 4, end + 4 + length));
    });
    return u;
  };
  return (req, res) => {
    const u = idle.pop() ?? open();
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    u.answer = (status, headers, body) => void res.writeHead(status, headers).end(body);
    u.socket.write(`${head}\r\n`, "latin1");
  };
}

if (mode !== "undici" && mode !== "socket") throw new Error("usage: floor.mts undici|socket <port> <upstream port>");
createServer(mode === "undici" ? viaUndici() : viaSocket()).listen(Number(port), "127.0.0.1");
