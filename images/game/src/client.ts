/**
 * The browser client, served at `/`: one self-contained page (no build step, no CDN).
 * Arrow keys / WASD move; the page keeps its session token in sessionStorage and
 * reconnects with it, so a reload or a dropped connection keeps the player's seat.
 * `window.game` exposes the client state for the headless browser test.
 */
export const CLIENT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Serverpark arena</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{margin:0;font-family:system-ui,sans-serif;background:#10151f;color:#e6e9ef;display:flex;gap:16px;padding:16px}
canvas{background:#1b2333;border:1px solid #3a4660;image-rendering:pixelated}
#side{min-width:220px} li.me{color:#ffd166;font-weight:600} #status{color:#9aa4b5}
</style></head>
<body>
<canvas id="arena" width="600" height="600"></canvas>
<div id="side"><h2>Arena</h2><div id="status">connecting…</div><p>Move with arrow keys or WASD; pick up the gold items.</p><ol id="scores"></ol></div>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const game = window.game = { id: 0, room: "", players: new Map(), items: new Map(), tick: 0, state: "connecting", snaps: 0, rejects: 0 };
const canvas = document.getElementById("arena"), ctx = canvas.getContext("2d");
const keys = new Set();
let ws, seq = 0, arena = 1000, snapMs = 50, lastDir = "0,0", lastSent = 0, retry = 0;
const name = (params.get("name") || "player" + Math.floor(Math.random() * 1000)).slice(0, 24);

function connect() {
  ws = new WebSocket(new URL("ws", location.href.replace(/^http/, "ws")));
  ws.onopen = () => {
    retry = 0;
    const token = sessionStorage.getItem("arena-token");
    ws.send(JSON.stringify(token ? { t: "join", name, token } : { t: "join", name }));
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.t === "welcome") {
      game.id = m.id; game.room = m.room; arena = m.arena; game.state = "playing"; snapMs = 1000 / (m.snapHz || m.tickHz);
      sessionStorage.setItem("arena-token", m.token);
    } else if (m.t === "snap") {
      game.snaps++; game.tick = m.tick;
      if (m.full) { game.players.clear(); game.items.clear(); }
      for (const [id, nm] of m.joined || []) game.players.set(id, { id, name: nm, x: 0, y: 0, score: 0 });
      // Players glide from where they are drawn to the new position over one snapshot interval.
      const at = performance.now();
      for (const [id, x, y, score] of m.players) {
        const p = game.players.get(id) || { id, name: "?" };
        const fresh = p.at === undefined;
        Object.assign(p, { fx: fresh ? x : drawn(p, at, "x"), fy: fresh ? y : drawn(p, at, "y"), x, y, score, at });
        game.players.set(id, p);
      }
      for (const [id, x, y] of m.items) game.items.set(id, { x, y });
      for (const id of m.gone || []) game.players.delete(id);
    } else if (m.t === "reject") {
      game.rejects++;
    } else if (m.t === "error" && m.code === "unknown-token") {
      sessionStorage.removeItem("arena-token"); ws.close();
    }
  };
  ws.onclose = (ev) => {
    game.state = "disconnected (" + (ev.reason || ev.code) + ")";
    if (ev.code === 4000 || ev.code === 4001) return;
    setTimeout(connect, Math.min(5000, 250 * 2 ** retry++));
  };
}

function direction() {
  let dx = 0, dy = 0;
  if (keys.has("ArrowLeft") || keys.has("a")) dx -= 1;
  if (keys.has("ArrowRight") || keys.has("d")) dx += 1;
  if (keys.has("ArrowUp") || keys.has("w")) dy -= 1;
  if (keys.has("ArrowDown") || keys.has("s")) dy += 1;
  const len = Math.hypot(dx, dy) || 1;
  return [dx / len, dy / len];
}

function sendInput(now) {
  if (!ws || ws.readyState !== 1 || !game.id) return;
  const [dx, dy] = direction(), key = dx + "," + dy;
  // Send on change, and every 250 ms while moving (keeps the seat from the idle kick).
  if (key === lastDir && (key === "0,0" || now - lastSent < 250)) return;
  lastDir = key; lastSent = now;
  ws.send(JSON.stringify({ t: "input", seq: ++seq, dx, dy }));
}

/** Where player p is drawn at time now on axis k ("x" or "y"): between the last two snapshots. */
function drawn(p, now, k) {
  const from = k === "x" ? p.fx : p.fy;
  if (p.at === undefined || from === undefined) return p[k];
  return from + (p[k] - from) * Math.min(1, (now - p.at) / snapMs);
}

function draw(now) {
  sendInput(now);
  const s = canvas.width / arena;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#ffd166";
  for (const it of game.items.values()) { ctx.beginPath(); ctx.arc(it.x * s, it.y * s, 5, 0, 7); ctx.fill(); }
  for (const p of game.players.values()) {
    ctx.fillStyle = p.id === game.id ? "#06d6a0" : "#ef476f";
    const x = drawn(p, now, "x") * s, y = drawn(p, now, "y") * s;
    ctx.beginPath(); ctx.arc(x, y, 8, 0, 7); ctx.fill();
    ctx.fillStyle = "#e6e9ef"; ctx.fillText(p.name, x + 10, y - 10);
  }
  document.getElementById("status").textContent = game.state + (game.room ? " · room " + game.room : "") + " · tick " + game.tick;
  const list = [...game.players.values()].sort((a, b) => b.score - a.score).slice(0, 10);
  document.getElementById("scores").innerHTML = "";
  for (const p of list) { const li = document.createElement("li"); li.textContent = p.name + " — " + p.score; if (p.id === game.id) li.className = "me"; document.getElementById("scores").append(li); }
  requestAnimationFrame(draw);
}

addEventListener("keydown", (e) => { keys.add(e.key); });
addEventListener("keyup", (e) => { keys.delete(e.key); });
connect();
requestAnimationFrame(draw);
</script></body></html>
`;
