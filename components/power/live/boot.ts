/**
 * The reliability records of a live run: per role, how long a replica takes from the moment
 * the controller begins its host's boot (tells the agent, then `docker start`) to the first
 * answer a client gets through the role's protocol.
 *
 * What determines it was measured (bench/chaos, whose README has every run): `docker start`
 * itself (2–3 s at load 27–31), the role's Node start (3–6 s more at that load) and, for the
 * db, PostgreSQL's crash recovery (redo 0.00–0.10 s and an end-of-recovery checkpoint of
 * 0.01–1.2 s on the local stack's small db: the WAL is not what varies). All of it is CPU
 * work on a machine the datacenter shares: on these two cores the same db boot took 1.9 s at
 * load ~1, 3.9 s at load 7–9 and 4.5–11.3 s at load 17–31. So a record is the boot on an idle
 * machine (`min` to `max`, seconds), and the prediction scales it by the machine's load when
 * the run starts: the boots share the cores with the machine's other work, each unit of load
 * average counting as LOAD_STRETCH of a boot (so a boot alone is stretched by `loadSlowdown`).
 * Fitted on the db's 21 measured boots at load 1–40 (bench/chaos/README.md lists them): boot
 * ÷ (1 + 0.25 × load ÷ 2 cores) lies within 1.0–3.3 s for every one, and that is the db's record.
 *
 * The other roles were measured at load 7–9 (2026-12-06 01:04–01:06 UTC, `serverpark chaos
 * local --speed 60`; a stretch of 2 there): mail 5.0 and 5.9 s, file 3.4 and 5.1 s, noc 3.4
 * and 4.2 s, dns 2.1 s, proxy 2.8 s. Their idle records are those divided by 2, widened by the
 * db's measured spread around its middle (0.62–1.53× of 1.7 s), since the same machine noise
 * moves them. Checked on 2026-12-06 03:29–03:32 UTC (load 10–14, logins as the probes): mail
 * 4.7–6.6 s (idle 1.8–2.4), file 3.5 and 5.5 s (1.6, 2.3), noc 2.5 s (1.1: its record now
 * starts at 1.0). Not explained: when every host boots at once, mail answered 3–4 s after its
 * host's power-on, earlier than its share of the cores allows (bench/chaos/README.md).
 *
 * web and game could not be measured alone (behind the proxy their return is hidden by its
 * ejection window); they are Node servers like dns and noc.
 */

/** Seconds on an idle machine, shortest and longest. */
export interface BootTime {
  readonly min: number;
  readonly max: number;
}

/** A boot's stretch per unit of load average per CPU core (fitted on the db's boots). */
export const LOAD_STRETCH = 0.25;

/** How much longer a boot takes at `load` (1-minute load average) on `cores` cores. */
export function loadSlowdown(load: number, cores: number): number {
  return 1 + LOAD_STRETCH * (Math.max(0, load) / Math.max(1, cores));
}

/** db: `docker start`, Node, PostgreSQL's crash recovery, the first login and `SELECT 1`. */
export const DB_RECOVERY: BootTime = { min: 1.0, max: 3.3 };

export const BOOT_SECONDS: Readonly<Record<string, BootTime>> = {
  web: { min: 0.9, max: 2.3 },
  proxy: { min: 0.9, max: 2.1 },
  dns: { min: 0.65, max: 1.6 },
  mail: { min: 1.7, max: 4.1 },
  file: { min: 1.3, max: 3.2 },
  db: DB_RECOVERY,
  game: { min: 0.9, max: 2.3 },
  noc: { min: 1.0, max: 2.9 },
};

/** A boot time given as one number is a range of one point. */
export function bootRange(value: number | BootTime): BootTime {
  return typeof value === "number" ? { min: value, max: value } : value;
}
