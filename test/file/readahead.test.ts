/**
 * SFTP read-ahead (images/file/src/readahead.ts) against the file's own bytes: concurrent
 * in-order READs as OpenSSH's sftp sends them, READs straddling pieces, jumps, the end of the
 * file, and a file that grows after its end was read. Buffers are reused between pieces, so
 * every READ's bytes are copied inside `use` and compared at the end.
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ReadAhead } from "../../images/file/src/readahead";

const dir = mkdtempSync(join(tmpdir(), "sp-readahead-"));

async function withFile(data: Buffer, fn: (ahead: ReadAhead, path: string) => Promise<void>): Promise<void> {
  const path = join(dir, randomBytes(6).toString("hex"));
  writeFileSync(path, data);
  const fh = await open(path, "r");
  try {
    await fn(new ReadAhead(fh), path);
  } finally {
    await fh.close();
  }
}

/** Each READ's bytes, copied while they are valid. */
const read = async (ahead: ReadAhead, offset: number, length: number): Promise<Buffer> => {
  let got: Buffer | undefined;
  await ahead.read(offset, length, (data) => (got = Buffer.from(data)));
  return got!;
};

describe("SFTP read-ahead", () => {
  it("answers 32 KiB READs, 32 in flight at a time, with the file's bytes to its end", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 12_345);
    await withFile(data, async (ahead) => {
      const size = 32 * 1024;
      const parts: Buffer[] = [];
      for (let offset = 0; offset < data.length + 2 * size; offset += 32 * size) {
        const batch = Array.from({ length: 32 }, (_, i) => read(ahead, offset + i * size, size));
        parts.push(...(await Promise.all(batch)));
      }
      const whole = Buffer.concat(parts);
      expect(whole.length).toBe(data.length);
      expect(whole.equals(data)).toBe(true);
      expect((await read(ahead, data.length, size)).length).toBe(0);
    });
  });

  it("answers READs that straddle pieces, jump back and forth, and ask past the end", async () => {
    const data = randomBytes(2 * 1024 * 1024 + 77);
    await withFile(data, async (ahead) => {
      const cases: [number, number][] = [
        [0, 50_000],
        [50_000, 300_000], // over a piece boundary
        [262_100, 100], // across 256 KiB
        [1_900_000, 65_536], // a jump forward
        [10, 20], // and back
        [data.length - 5, 100], // the end
        [data.length + 10, 100], // past it
      ];
      for (const [offset, length] of cases) {
        expect((await read(ahead, offset, length)).equals(data.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
      }
    });
  });

  it("reads what was appended after the end of the file was read", async () => {
    const data = randomBytes(100_000);
    const more = randomBytes(50_000);
    await withFile(data, async (ahead, path) => {
      expect((await read(ahead, 0, 100_000)).equals(data)).toBe(true);
      expect((await read(ahead, 100_000, 32_768)).length).toBe(0);
      appendFileSync(path, more);
      expect((await read(ahead, 100_000, 32_768)).equals(more.subarray(0, 32_768))).toBe(true);
    });
  });
});
