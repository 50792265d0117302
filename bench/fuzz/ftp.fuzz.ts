/**
 * `tsx bench/fuzz/ftp.fuzz.ts <count>`: the FTP control connection of the real file server
 * process fed `count` generated command lines (the generator of test/file/ftp-fuzz.test.ts,
 * shared: test/file/ftp-fuzz-input.ts), a small share before login (one connection per batch,
 * under the pre-login command budget), the rest on six logged-in sessions; each batch ends with NOOP, whose
 * reply must come within 60 s (else a hang). Contract and summary: bench/fuzz/run.ts.
 */
import { fuzzLine, PRE_AUTH_BATCH } from "../../test/file/ftp-fuzz-input";
import { PASSWORDS, Raw } from "../../test/file/ftp-support";
import { startFuzzRun } from "./file-fuzz-support";

/** The server process idles at about 130 MiB under tsx; seven busy sessions and garbage not yet collected on a loaded machine add the rest. */
const RSS_BOUND_MIB = 384;

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 100_000);
  const run = await startFuzzRun(47700, RSS_BOUND_MIB, { requireTls: false });
  const port = run.server.ports.ftp;
  let sent = 0;
  let hangs = 0;
  const worker = async (loggedIn: boolean, from: string) => {
    let raw: Raw | undefined;
    while (sent < count && !run.crashed()) {
      if (!raw || raw.closed) {
        raw?.close();
        raw = await Raw.open(port, from);
        if (!(await raw.until(/^220 /, 60_000).catch(() => undefined))) continue;
        if (loggedIn) {
          raw.send(`USER tiny\r\nPASS ${PASSWORDS.tiny}\r\n`);
          if (!(await raw.until(/^230 /, 60_000).catch(() => undefined))) continue;
        }
      }
      const mark = raw.lines.length;
      const batch = Array.from({ length: loggedIn ? 100 : PRE_AUTH_BATCH }, () => Buffer.concat([fuzzLine(loggedIn), Buffer.from("\r\n")]));
      raw.send(Buffer.concat([...batch, Buffer.from("NOOP\r\n")]));
      sent += batch.length;
      // The NOOP's reply, or the connection closed (a fuzzed QUIT or AUTH): the server went through the batch.
      const answered = await raw.until(/^200 OK$/, 60_000, mark).then(
        () => true,
        () => false,
      );
      if (!answered) {
        hangs++;
        raw.close();
      }
      if (!loggedIn) raw.close();
      if (sent % 10_000 < batch.length) console.error(`ftp fuzz: ${sent} lines`);
    }
    raw?.close();
  };
  await Promise.all([worker(false, "127.0.0.2"), ...[3, 4, 5, 6, 7, 8].map((i) => worker(true, `127.0.0.${i}`))]);
  run.finish({ protocol: "ftp", inputs: sent, hangs });
}

void main();
