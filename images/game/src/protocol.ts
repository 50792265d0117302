/**
 * The game's wire protocol: JSON text frames. Client messages are checked with zod
 * before anything reads them; the server's messages are plain objects (see room.ts for
 * snapshots). Close codes tell a client why it was disconnected.
 *
 * client → server
 *   {"t":"join","name":"ada","room"?:"r1","token"?:"<from welcome>"}
 *   {"t":"input","seq":1,"dx":1,"dy":0,"x"?:500,"y"?:500}
 *   {"t":"ping","id":7}
 *   {"t":"leave"}   give the seat up now (no reconnect grace; the NOC's probe uses it)
 * server → client
 *   {"t":"welcome","id":3,"token":"…","room":"r1","tickHz":20,"snapHz":10,"arena":1000,"resumed":false}
 *   {"t":"snap",…}  snapHz times a second: full on join/reconnect, then deltas (all that changed since the last one)
 *   {"t":"reject","seq":4,"reason":"speed"|"teleport"|"sequence"|"rate"}
 *   {"t":"error","code":"…","message":"…"}   {"t":"pong","id":7}
 */
import { z } from "zod";

export const CLOSE = {
  /** ws sets these itself: 1009 message too big. */
  unsupportedData: 1003,
  invalidPayload: 1007,
  policy: 1008,
  tryAgainLater: 1013,
  goingAway: 1001,
  idle: 4000,
  replaced: 4001,
} as const;

const name = z
  .string()
  .trim()
  .min(1)
  .max(24)
  .regex(/^[\p{L}\p{N} _.-]+$/u, "letters, digits, space, '_', '.', '-'");
const coord = z.number().finite();

export const clientMessage = z.discriminatedUnion("t", [
  z.strictObject({
    t: z.literal("join"),
    name,
    room: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/)
      .optional(),
    token: z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,64}$/)
      .optional(),
  }),
  z.strictObject({ t: z.literal("input"), seq: z.number().int().nonnegative(), dx: coord, dy: coord, x: coord.optional(), y: coord.optional() }),
  z.strictObject({ t: z.literal("ping"), id: z.number().int() }),
  z.strictObject({ t: z.literal("leave") }),
]);

export type ClientMessage = z.output<typeof clientMessage>;

/**
 * One unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2) around `payload`. A room's
 * snapshot is framed once per tick and the same bytes are written to every player's socket:
 * ws would build a header and go through its sender (cork, two writes, writev) per player,
 * about 15 % more CPU on the send loop that dominates a tick (bench/game/README.md).
 */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (n < 126) frame[1] = n;
  else if (n < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(frame, head);
  return frame;
}
