/** Game: a WebSocket join at /ws (ws client), waiting for the welcome, then leaving at once so no seat lingers. */
import WebSocket from "ws";
import type { Probe } from "./types";

export const gameProbe: Probe = (target, ctx) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${target.address}:${target.port.port}/ws`, { handshakeTimeout: ctx.timeoutMs });
    ctx.signal.addEventListener("abort", () => ws.terminate(), { once: true });
    ws.on("open", () => ws.send(JSON.stringify({ t: "join", name: "noc-probe" })));
    ws.on("message", (data) => {
      let m: { t?: string; room?: string; code?: string };
      try {
        m = JSON.parse(data.toString()) as typeof m;
      } catch {
        return;
      }
      if (m.t === "welcome") {
        ws.send(JSON.stringify({ t: "leave" }));
        ws.close(1000);
        resolve({ ok: true, detail: `joined room ${m.room}` });
      } else if (m.t === "error") {
        ws.terminate();
        resolve({ ok: false, degraded: true, detail: `join refused: ${m.code}` });
      }
    });
    ws.on("close", (code, reason) => resolve({ ok: false, degraded: code === 1013, detail: `closed ${code} ${reason.toString()}`.trim() }));
    ws.on("error", reject);
  });
