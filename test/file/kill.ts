/**
 * The kill -9 scenario both file protocols must survive, with the real server process
 * (images/file/src/main.ts): an overwrite of `existing.bin` and a new `fresh.bin` are both in
 * flight when the server dies; after a restart the old content is there byte for byte, the
 * new file does not exist, tmp/ is empty, and uploads work again.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { standaloneFileEnv, startServer } from "./server-process";

export interface KillScenario {
  /** Ports and TLS the protocol needs (SP_FILE_*_PORT, SP_TLS_*); management and data are set here. */
  readonly env: Record<string, string>;
  readonly mgmtPort: number;
  /** Uploads `local` (a path) as `remote` for alice; `throttled` keeps it in flight for many seconds. */
  readonly upload: (remote: string, local: string, throttled: boolean) => Promise<{ code: number; out: string }>;
  /** The live process, so the caller's afterAll can kill what is left. */
  readonly onChild: (child: ChildProcess) => void;
}

export async function expectNoPartialFileAfterKill(scenario: KillScenario): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sp-files-kill-"));
  const env = { ...standaloneFileEnv(dir, scenario.mgmtPort), ...scenario.env };
  let child = await startServer(env, scenario.mgmtPort);
  scenario.onChild(child);
  const old = randomBytes(50_000);
  writeFileSync(join(dir, "old.bin"), old);
  writeFileSync(join(dir, "big.bin"), randomBytes(32 * 1024 * 1024));
  const first = await scenario.upload("existing.bin", join(dir, "old.bin"), false);
  expect(first.code, first.out).toBe(0);

  // Throttled, so both are still in flight when the server dies however fast or loaded the machine is.
  const uploads = Promise.all([scenario.upload("existing.bin", join(dir, "big.bin"), true), scenario.upload("fresh.bin", join(dir, "big.bin"), true)]);
  const files = join(dir, "data", "users", "alice", "files");
  const tmp = join(dir, "data", "users", "alice", "tmp");
  // Kill once both uploads are under way (their temporary files exist).
  for (let i = 0; i < 1500 && readdirSync(tmp).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  expect(readdirSync(tmp).length).toBe(2);
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  const results = await uploads;
  expect(results.every((r) => r.code !== 0)).toBe(true);

  child = await startServer(env, scenario.mgmtPort);
  scenario.onChild(child);
  expect(readFileSync(join(files, "existing.bin")).equals(old)).toBe(true);
  expect(existsSync(join(files, "fresh.bin"))).toBe(false);
  expect(readdirSync(tmp)).toEqual([]);
  // And the restarted server still takes uploads.
  const again = await scenario.upload("fresh.bin", join(dir, "old.bin"), false);
  expect(again.code, again.out).toBe(0);
  expect(readFileSync(join(files, "fresh.bin")).equals(old)).toBe(true);
}
