/**
 * The simulation part of a 500-player tick without sockets: 16 rooms of 32 players steering
 * 5 times a second, each tick stepped, its delta built and serialised once per room. Prints the
 * CPU time per tick; the sends that follow in the real tick are measured by run.ts.
 *
 * Usage: tsx bench/game/sim.ts [ticks]   (default 4000, after 500 warm-up ticks)
 */
import { loadavg } from "node:os";
import { gameSettingsSchema } from "../../contracts/settings/game";
import { Room } from "../../images/game/src/room";

const TICKS = Number(process.argv[2] ?? 4000);
const settings = gameSettingsSchema.parse({});
const rooms = Array.from({ length: 16 }, (_, r) => {
  const room = new Room(`r${r}`, settings, r + 1);
  for (let i = 0; i < 32; i++) room.addPlayer(r * 32 + i, `bot${i}`, `t${r}-${i}`, 0);
  return room;
});
let seq = 0;
function tick(): void {
  seq++;
  for (const room of rooms) {
    if (seq % 4 === 0) {
      for (const p of room.players.values()) {
        const a = Math.random() * Math.PI * 2;
        room.applyInput(p, { seq, dx: Math.cos(a), dy: Math.sin(a) }, seq);
      }
    }
    room.step(1 / settings.tickHz);
    Buffer.from(JSON.stringify(room.delta()));
  }
}

for (let i = 0; i < 500; i++) tick();
const start = process.cpuUsage();
for (let i = 0; i < TICKS; i++) tick();
const cpu = process.cpuUsage(start);
const [load1] = loadavg();
console.log(
  `${((cpu.user + cpu.system) / 1000 / TICKS).toFixed(3)} ms CPU per 500-player tick (simulation + snapshots, no sends), ${TICKS} ticks, load ${load1!.toFixed(1)}`,
);
