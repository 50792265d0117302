/**
 * Read-ahead for SFTP downloads. A client reads a file as many small READs (OpenSSH's sftp:
 * 32 KiB each, 64 in flight); one fs read per READ is one trip through libuv's thread pool per
 * 32 KiB, and on a busy host each trip costs the event loop a wake-up and often a context
 * switch (bench/file/README.md). Here a handle reads its file in CHUNK-sized pieces aligned to
 * CHUNK, reads the next piece before it is asked for, keeps at most KEEP pieces, reuses their
 * buffers, and answers READs with views of them (ssh2's `data()` copies the bytes into its
 * packet at once).
 *
 * Only reads near the last one use the pieces: a client jumping around gets plain reads of
 * what it asked for, so random access never reads more than asked. Where a piece ended short
 * (the end of the file when it was read), a READ past that end is a plain read too, so a file
 * that grew since still reads to its new end.
 */
import type { FileHandle } from "node:fs/promises";

const CHUNK = 256 * 1024;
const KEEP = 3;

/**
 * What one read-ahead handle holds: KEEP pieces and one pooled buffer. (A piece dropped while
 * READs still copy from it lives until they are done: that is within the READs in flight,
 * bounded by limits.sftpBytesInFlight.)
 */
export const READ_AHEAD_BYTES = (KEEP + 1) * CHUNK;

interface Piece {
  readonly index: number;
  readonly buf: Buffer;
  /** The bytes read (a view of `buf`); fails with the read. */
  readonly data: Promise<Buffer>;
  /** READs between taking the piece and handing its bytes on. */
  users: number;
  /** No longer kept: its buffer goes back to the pool when its last user is done. */
  evicted: boolean;
}

/** A plain read of up to `length` bytes at `offset` into a buffer of its own. */
export async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

export class ReadAhead {
  /** Oldest first. */
  private readonly pieces: Piece[] = [];
  /**
   * The buffer of a piece no READ uses any more, for the next piece: a download allocates a few
   * buffers, not one per piece (garbage from large buffers is most of the server's GC time).
   */
  private readonly pool: Buffer[] = [];
  /** Where the previous READ ended: a READ within the kept window of it is sequential. */
  private next = 0;

  constructor(private readonly fh: FileHandle) {}

  /**
   * Hands `use` up to `length` bytes at `offset` (fewer at the end of the file, none at or past
   * it). The bytes may be a view of a shared buffer, valid only during the call: `use` must
   * copy them (ssh2's `sftp.data()` does) and not keep the view.
   */
  async read(offset: number, length: number, use: (data: Buffer) => void): Promise<void> {
    const sequential = Math.abs(offset - this.next) <= READ_AHEAD_BYTES;
    this.next = sequential ? Math.max(this.next, offset + length) : offset + length;
    if (!sequential || length <= 0) return use(await readAt(this.fh, offset, length));
    const first = Math.floor(offset / CHUNK);
    const last = Math.floor((offset + length - 1) / CHUNK);
    const wanted: Piece[] = [];
    for (let i = first; i <= last; i++) wanted.push(this.take(i));
    this.take(last + 1).users--; // read ahead, used by nobody yet
    try {
      const parts: Buffer[] = [];
      let at = offset;
      for (const piece of wanted) {
        const data = await piece.data;
        const start = piece.index * CHUNK;
        if (at >= start + data.length) {
          // The piece ended short (end of file when it was read): ask the file itself.
          parts.push(await readAt(this.fh, at, offset + length - at));
          break;
        }
        const end = Math.min(offset + length, start + data.length);
        parts.push(data.subarray(at - start, end - start));
        if (data.length < CHUNK) break;
        at = end;
      }
      use(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    } finally {
      for (const piece of wanted) this.done(piece);
    }
  }

  /** The piece `index` (kept, or read now), with one more user. */
  private take(index: number): Piece {
    let piece = this.pieces.find((p) => p.index === index);
    if (!piece) {
      const buf = this.pool.pop() ?? Buffer.allocUnsafe(CHUNK);
      const data = this.fh.read(buf, 0, CHUNK, index * CHUNK).then(({ bytesRead }) => buf.subarray(0, bytesRead));
      const made: Piece = { index, buf, data, users: 0, evicted: false };
      // A failed read answers the READs waiting for it (their own error) and is not kept.
      data.catch(() => this.evict(made));
      piece = made;
      this.pieces.push(piece);
      if (this.pieces.length > KEEP) this.evict(this.pieces[0]!);
    }
    piece.users++;
    return piece;
  }

  private done(piece: Piece): void {
    piece.users--;
    if (piece.evicted && piece.users === 0) this.recycle(piece);
  }

  private evict(piece: Piece): void {
    const at = this.pieces.indexOf(piece);
    if (at < 0) return;
    this.pieces.splice(at, 1);
    piece.evicted = true;
    if (piece.users === 0) this.recycle(piece);
  }

  /** Its buffer back to the pool once its read has finished (the thread pool may still be writing it). */
  private recycle(piece: Piece): void {
    const back = () => {
      if (this.pool.length === 0) this.pool.push(piece.buf);
    };
    piece.data.then(back, back);
  }
}
