/**
 * What the file role's long fuzzers (ftp.fuzz.ts, sftp.fuzz.ts) share: the real server process,
 * its RSS sampled while they run, and the summary line bench/fuzz/run.ts reads.
 */
import { rssMiB, startFileProcess, type FileProcess } from "../../test/hostile/file-support";

export interface FuzzRun {
  readonly server: FileProcess;
  /** The server process died: counted as a crash, and the run stops. */
  readonly crashed: () => boolean;
  /** Prints the summary (last stdout line) and exits 0 only when nothing crashed or hung and RSS stayed under the bound. */
  finish(result: { protocol: string; inputs: number; hangs: number }): never;
}

export async function startFuzzRun(base: number, rssBoundMiB: number, ftp: Record<string, unknown> = {}): Promise<FuzzRun> {
  const started = Date.now();
  const server = await startFileProcess(base, ftp);
  const pid = server.child.pid!;
  let crashes = 0;
  server.child.once("exit", (code, signal) => {
    crashes++;
    console.error(`fuzz: the file server exited (${code ?? signal})`);
  });
  let rssMax = rssMiB(pid);
  const timer = setInterval(() => {
    if (!crashes) rssMax = Math.max(rssMax, rssMiB(pid));
  }, 200);
  return {
    server,
    crashed: () => crashes > 0,
    finish({ protocol, inputs, hangs }) {
      clearInterval(timer);
      server.child.removeAllListeners("exit");
      server.child.kill("SIGKILL");
      const summary = { protocol, inputs, crashes, hangs, rssMaxMiB: Math.round(rssMax), rssBoundMiB, seconds: Math.round((Date.now() - started) / 1000) };
      console.log(JSON.stringify(summary));
      process.exit(crashes === 0 && hangs === 0 && rssMax <= rssBoundMiB ? 0 : 1);
    },
  };
}
