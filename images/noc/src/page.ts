/**
 * The status page: the datacenter drawing (from components/render, coloured by live
 * state and power), a line counting hosts by power state, and a table of the latest probes. The page re-fetches both every few seconds;
 * the script carries a per-response nonce so the CSP can forbid every other script.
 */
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function statusPage(opts: { datacenter: string; svg: string; nonce: string; refreshMs: number }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NOC · ${esc(opts.datacenter)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${opts.nonce}">
body{margin:0;padding:16px 24px;font-family:system-ui,sans-serif;color:#1d2433;background:#fff}
h1{font-size:20px;margin:0 0 4px} #updated{color:#667085;font-size:13px;margin-bottom:12px}
#map svg{max-width:100%;height:auto} table{border-collapse:collapse;font-size:12px;margin-top:16px}
td,th{padding:3px 10px;border-bottom:1px solid #e5e8ee;text-align:left} .muted{color:#667085;font-size:13px;margin-bottom:8px} .up{color:#2e9d4f}.down{color:#d63c3c}.degraded{color:#b7791f}.nopower{color:#667085}
</style></head>
<body>
<h1>Network operations centre · ${esc(opts.datacenter)}</h1>
<div id="updated">waiting for the first probe round…</div>
<div id="power" class="muted"></div>
<div id="map">${opts.svg}</div>
<table><thead><tr><th>replica</th><th>port</th><th>probe</th><th>address</th><th>state</th><th>latency</th><th>detail</th></tr></thead><tbody id="probes"></tbody></table>
<script nonce="${opts.nonce}">
"use strict";
async function refresh() {
  try {
    const [svg, status] = await Promise.all([
      fetch("diagram.svg", { cache: "no-store" }).then((r) => r.text()),
      fetch("api/status", { cache: "no-store" }).then((r) => r.json()),
    ]);
    document.getElementById("map").innerHTML = svg;
    document.getElementById("updated").textContent = status.at
      ? "last probe round " + new Date(status.at).toISOString() + " · " + status.rounds + " rounds in the window"
      : "waiting for the first probe round…";
    if (status.power) {
      const hosts = Object.values(status.power.hosts);
      const count = (st) => hosts.filter((h) => h.state === st).length;
      document.getElementById("power").textContent = "power (host agents): " + count("powered") + " powered, " + count("unpowered") + " without power, " + count("unknown") + " unknown of " + hosts.length + " hosts";
    }
    const body = document.getElementById("probes");
    body.replaceChildren(...status.probes.map((p) => {
      const tr = document.createElement("tr");
      // A probe failing on a host without power is the power cut, not a failed server.
      const state = status.replicas[p.replica] === "no-power" && p.state !== "up" ? ["no power", "nopower"] : [p.state, p.state];
      for (const [text, cls] of [[p.replica], [p.port], [p.kind], [p.address], state, [Math.round(p.latencyMs) + " ms"], [p.detail]]) {
        const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.append(td);
      }
      return tr;
    }));
  } catch (e) {
    document.getElementById("updated").textContent = "NOC unreachable: " + e.message;
  }
}
refresh();
setInterval(refresh, ${Math.max(500, Math.round(opts.refreshMs))});
</script>
</body></html>
`;
}
