/**
 * The game role's settings (`services[].settings` in the stack), validated with zod at
 * start-up and exported so `serverpark validate` can check a stack before deploying it.
 */
import { z } from "zod";

export const gameSettingsSchema = z.strictObject({
  /** Simulation ticks per second; every input is applied on a tick. @default 20 */
  tickHz: z.number().int().min(5).max(60).default(20),
  /**
   * Each client gets a snapshot every this many ticks (the simulation still runs at tickHz):
   * clients are split into this many send groups and each tick writes to one group only, so a
   * tick makes 1/snapshotEvery of the socket writes (the tick's main cost: images/game/README.md).
   * 1 sends every tick. @default 2
   */
  snapshotEvery: z.number().int().min(1).max(4).default(2),
  /** Players per room; a full room sends new players to the next room. @default 32 */
  roomCap: z.number().int().min(1).max(500).default(32),
  /** Most rooms this replica runs; beyond it joins are refused ("server full"). @default 64 */
  maxRooms: z.number().int().min(1).max(10_000).default(64),
  /** Arena side length in world units. @default 1000 */
  arenaSize: z.number().int().min(100).max(100_000).default(1000),
  /** Fastest a player may move, world units per second. @default 200 */
  maxSpeed: z.number().positive().max(10_000).default(200),
  /** Items lying in each room at any time. @default 12 */
  itemsPerRoom: z.number().int().min(0).max(1000).default(12),
  /** A player who sends no input for this long is kicked. @default 60000 */
  idleTimeoutMs: z.number().int().min(1000).default(60_000),
  /** How long a disconnected player's seat (and score) waits for a reconnect. @default 15000 */
  reconnectGraceMs: z.number().int().min(0).default(15_000),
  /** Inputs per second a client may send; more are refused, far more close it. @default 60 */
  maxInputsPerSecond: z.number().int().min(1).max(1000).default(60),
  /** Largest client message in bytes; a bigger frame closes that client (1009). @default 1024 */
  maxMessageBytes: z.number().int().min(64).max(65_536).default(1024),
});

export type GameSettings = z.output<typeof gameSettingsSchema>;
