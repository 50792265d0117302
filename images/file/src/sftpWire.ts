/**
 * SFTP packets written past ssh2's own reply methods, on the SFTP channel object's internals
 * (ssh2 1.x, lib/protocol/SFTP.js: `_protocol`, `outgoing`, `_buffer`, `_waitWindow`,
 * `_chunkcb`), keeping ssh2's accounting of the client's SSH window exact:
 *
 * - `sendPacket` sends any SFTP packet the way ssh2's `sendOrBuffer` does: split into channel
 *   packets within the client's window and packet size, the rest queued until a WINDOW_ADJUST
 *   (ssh2 calls `_chunkcb` then; ours drains the same queue ssh2 uses).
 * - `sendRead` answers a READ with one DATA packet read straight from the file into a pooled
 *   buffer. ssh2's `data()` allocates and copies a buffer per reply on top of the bytes read, and
 *   garbage from large buffers drives V8's major GCs (most of the download's CPU in a profile,
 *   bench/file/README.md); ssh2's `channelData` still copies each channel packet into its
 *   encrypted packet, so a buffer is free again as soon as it is sent.
 */
import type { FileHandle } from "node:fs/promises";
import type { SFTPWrapper } from "ssh2";

/** The parts of ssh2's SFTP channel object used here. */
export interface ChannelInternals {
  _version: number;
  _buffer: Buffer[];
  _waitWindow: boolean;
  _chunkcb: (() => void) | undefined;
  _protocol: { channelData(id: number, data: Buffer): void };
  outgoing: { id: number; state: string; window: number; packetSize: number };
  push(data: Buffer | null): unknown;
}

export function internals(sftp: SFTPWrapper): ChannelInternals {
  return sftp as unknown as ChannelInternals;
}

/** What of `payload` could not go out for the window (undefined: all sent, or the channel is gone). */
function tryWrite(channel: ChannelInternals, payload: Buffer): Buffer | undefined {
  const out = channel.outgoing;
  if (out.state !== "open") return undefined;
  let p = 0;
  while (p < payload.length && out.window > 0) {
    const n = Math.min(payload.length - p, out.window, out.packetSize);
    out.window -= n;
    channel._protocol.channelData(out.id, n === payload.length ? payload : payload.subarray(p, p + n));
    p += n;
  }
  if (p === payload.length) return undefined;
  channel._waitWindow = true;
  channel._chunkcb = () => drain(channel);
  return p === 0 ? payload : payload.subarray(p);
}

function drain(channel: ChannelInternals): void {
  channel._chunkcb = undefined;
  const queue = channel._buffer;
  for (let i = 0; i < queue.length; i++) {
    const rest = tryWrite(channel, queue[i]!);
    if (rest !== undefined) {
      queue[i] = rest;
      channel._buffer = queue.slice(i);
      return;
    }
  }
  channel._buffer = [];
}

/**
 * Sends one SFTP packet (length prefix included). True when it left at once (no byte of it
 * waits for the client's window), so a buffer it was built in may be reused.
 */
export function sendPacket(channel: ChannelInternals, payload: Buffer): boolean {
  if (channel._buffer.length > 0) {
    if (channel.outgoing.state === "open") channel._buffer.push(payload);
    return false;
  }
  const rest = tryWrite(channel, payload);
  if (rest === undefined) return true;
  channel._buffer.push(rest);
  return false;
}

const DATA = 103;
const HEADER = 4 + 1 + 4 + 4;

/**
 * Reused reply buffers of one connection, at most `limit` bytes of free ones kept. A buffer
 * whose reply waits for the client's window is lent to the channel's queue and comes back once
 * the queue holds none of it (ssh2's `channelData` has copied it all by then).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private kept = 0;
  private lent: { buf: Buffer; channel: ChannelInternals }[] = [];

  constructor(private readonly limit: number) {}

  lend(buf: Buffer, channel: ChannelInternals): void {
    this.lent.push({ buf, channel });
  }

  take(size: number): Buffer {
    if (this.lent.length > 0) this.reclaim();
    const at = this.free.findIndex((b) => b.length >= size);
    if (at < 0) return Buffer.allocUnsafe(size);
    const buf = this.free.splice(at, 1)[0]!;
    this.kept -= buf.length;
    return buf;
  }

  private reclaim(): void {
    const still = this.lent.filter(({ buf, channel }) => channel._buffer.some((b) => b.buffer === buf.buffer));
    for (const { buf } of this.lent) if (!still.some((l) => l.buf === buf)) this.give(buf);
    this.lent = still;
  }

  give(buf: Buffer): void {
    if (this.kept + buf.length > this.limit) return;
    this.free.push(buf);
    this.kept += buf.length;
  }
}

/**
 * Reads up to `length` bytes at `offset` of `fh` into a pooled buffer, as the DATA packet that
 * answers READ `reqId`; undefined at the end of the file (the buffer goes back to the pool).
 */
export async function readReply(pool: BufferPool, reqId: number, fh: FileHandle, offset: number, length: number): Promise<Buffer | undefined> {
  const buf = pool.take(HEADER + length);
  let bytesRead = 0;
  try {
    ({ bytesRead } = await fh.read(buf, HEADER, length, offset));
  } finally {
    if (bytesRead === 0) pool.give(buf);
  }
  if (bytesRead === 0) return undefined;
  buf.writeUInt32BE(HEADER - 4 + bytesRead, 0);
  buf[4] = DATA;
  buf.writeUInt32BE(reqId, 5);
  buf.writeUInt32BE(bytesRead, 9);
  return buf.subarray(0, HEADER + bytesRead);
}

/** Sends a packet from `readReply`; its buffer goes back to the pool, at once or once the client's window let it all out. */
export function sendReply(sftp: SFTPWrapper, pool: BufferPool, packet: Buffer): void {
  const channel = internals(sftp);
  if (sendPacket(channel, packet)) pool.give(packet);
  else pool.lend(packet, channel);
}
