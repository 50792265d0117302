/**
 * The SFTP read path alone (no SSH): a 128 MiB file read as OpenSSH's sftp reads it — 32 KiB
 * READs, 32 in flight (our per-connection limit) — once with one fs read per READ into a
 * zero-filled buffer (before images/file/src/readahead.ts) and once through ReadAhead; each
 * way three times, alternating. Prints wall time and the process's CPU time per MiB (user +
 * system, thread pool included). Usage: npx tsx bench/file/readahead.ts [MiB=128]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ReadAhead } from "../../images/file/src/readahead";

const MIB = Number(process.argv[2] ?? 128);
const SIZE = 32 * 1024;
const IN_FLIGHT = 32;

async function perRead(fh: FileHandle, offset: number, sink: (b: Buffer) => void): Promise<void> {
  const buf = Buffer.alloc(SIZE);
  const { bytesRead } = await fh.read(buf, 0, SIZE, offset);
  sink(buf.subarray(0, bytesRead));
}

async function pass(path: string, ahead: boolean): Promise<{ ms: number; cpuMsPerMiB: number }> {
  const fh = await open(path, "r");
  const reader = new ReadAhead(fh);
  const copy = Buffer.allocUnsafe(SIZE + 13); // what ssh2's sftp.data() does with the bytes
  const sink = (b: Buffer) => void copy.set(b, 13);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const total = MIB * 1024 * 1024;
  for (let offset = 0; offset < total; offset += IN_FLIGHT * SIZE) {
    const batch = Array.from({ length: IN_FLIGHT }, (_, i) => offset + i * SIZE);
    await Promise.all(batch.map((at) => (ahead ? reader.read(at, SIZE, sink) : perRead(fh, at, sink))));
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await fh.close();
  return { ms, cpuMsPerMiB: (used.user + used.system) / 1000 / MIB };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-readahead-"));
  try {
    const path = join(dir, "large.bin");
    writeFileSync(path, randomBytes(MIB * 1024 * 1024));
    console.log(`${MIB} MiB in 32 KiB READs, ${IN_FLIGHT} in flight; load average ${loadavg()[0]!.toFixed(1)}`);
    await pass(path, false); // warm the page cache and the JIT
    for (let round = 1; round <= 3; round++) {
      for (const ahead of [false, true]) {
        const r = await pass(path, ahead);
        console.log(
          `round ${round}  ${ahead ? "read-ahead    " : "read per READ "}  ${r.ms.toFixed(0).padStart(6)} ms  ${r.cpuMsPerMiB.toFixed(3)} ms CPU/MiB`,
        );
      }
    }
    console.log(`load average at the end ${loadavg()[0]!.toFixed(1)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
