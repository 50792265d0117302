/**
 * The game port's plain HTTP: the browser client at `/` (and `/index.html`), `/healthz` for
 * the proxy's health checks (503 once the tick loop stalled), 404 for anything else.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { CLIENT_HTML } from "./client";

/** A tick loop that has not run for this long is stalled: `/healthz` answers 503. */
const STALLED_MS = 2000;

export interface PageState {
  /** The HTTP server is listening. */
  listening(): boolean;
  /** When the last tick ran (performance.now() ms). */
  lastTickAt(): number;
  rooms(): number;
}

export function servePage(state: PageState, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  if ((req.method === "GET" || req.method === "HEAD") && (path === "/" || path === "/index.html")) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", "x-content-type-options": "nosniff" });
    res.end(req.method === "HEAD" ? undefined : CLIENT_HTML);
    return;
  }
  if ((req.method === "GET" || req.method === "HEAD") && path === "/healthz") {
    // For the proxy's health checks on the game port: a replica whose tick loop stalled is
    // taken out of the pool (the management /healthz says the same to the platform).
    const ageMs = Math.round(performance.now() - state.lastTickAt());
    const ok = state.listening() && ageMs < STALLED_MS;
    res.writeHead(ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : JSON.stringify({ ok, tickAgeMs: ageMs, rooms: state.rooms() }));
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
}
