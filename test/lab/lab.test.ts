/**
 * `serverpark lab` without starting a datacenter: the generated values it keeps, its lock,
 * what it shows, and the bad input it refuses before touching the engine. The deployment
 * itself is driven end to end in test/e2e/lab.e2e.test.ts.
 */
import "tsx/cjs";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureIo } from "../support/cliIo";
import { dockerTestsEnabled } from "../harness/docker-cli";
import { baseImages } from "../../lab/applier";
import { generatePassword, OutputStore } from "../../lab/outputs";
import { lockStack, StackBusyError } from "../../lab/state";

const ROOT = join(__dirname, "..", "..");
// Loaded through the same require hook as the commands, so error classes are the same instances.
const load = createRequire(join(ROOT, "test/lab/lab.test.ts"));
const { main } = load("../../cli/main.ts") as typeof import("../../cli/main");
const { endpointRows } = load("../../cli/commands/lab.ts") as typeof import("../../cli/commands/lab");

const PASSWORD = "random:index/randomPassword:RandomPassword";

describe("generated values (lab/outputs.ts)", () => {
  it("keeps a value while the resource's inputs stay the same, and makes a new one when they change", async () => {
    const first = new OutputStore();
    const a = await first.source(PASSWORD, "db-app-password", { length: 32, special: false });
    const kept = new OutputStore(JSON.parse(JSON.stringify(first.state())));
    expect(await kept.source(PASSWORD, "db-app-password", { special: false, length: 32 })).toEqual(a);
    const changed = await new OutputStore(first.state()).source(PASSWORD, "db-app-password", { length: 24, special: false });
    expect(changed).not.toEqual(a);
    expect((changed as { result: string }).result).toHaveLength(24);
  });

  it("forgets the values of resources the program no longer registers", async () => {
    const first = new OutputStore();
    await first.source(PASSWORD, "gone", { length: 8 });
    await first.source(PASSWORD, "stays", { length: 8 });
    const second = new OutputStore(first.state());
    await second.source(PASSWORD, "stays", { length: 8 });
    expect(Object.keys(second.state())).toEqual([`${PASSWORD}::stays`]);
  });

  it("makes passwords of the requested length and character classes, differently each time", () => {
    const p = generatePassword({ length: 40, special: false });
    expect(p).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(generatePassword({ length: 40, special: false })).not.toBe(p);
    expect(generatePassword({ length: 30, upper: false, lower: false, special: false })).toMatch(/^[0-9]{30}$/);
    expect(generatePassword({ length: 12, upper: false, lower: false, numeric: false, overrideSpecial: "#" })).toBe("#".repeat(12));
    expect(() => generatePassword({ length: 8, upper: false, lower: false, numeric: false, special: false })).toThrow(/no characters/);
  });

  it("mints a real key pair and keeps it", async () => {
    const store = new OutputStore();
    const key = (await store.source("tls:index/privateKey:PrivateKey", "ca-key", { algorithm: "ECDSA", ecdsaCurve: "P256" })) as { privateKeyPem: string };
    expect(key.privateKeyPem).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    const again = await new OutputStore(store.state()).source("tls:index/privateKey:PrivateKey", "ca-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    expect(again).toEqual(key);
  });
});

describe("the stack lock (lab/state.ts)", () => {
  it("refuses a second holder while the first lives, and takes over a lock whose process is gone", () => {
    const root = mkdtempSync(join(tmpdir(), "sp-lab-lock-"));
    const release = lockStack(root, "s1");
    expect(() => lockStack(root, "s1")).toThrow(StackBusyError);
    expect(() => lockStack(root, "s1")).toThrow(new RegExp(`pid ${process.pid}`));
    lockStack(root, "other")(); // another stack is independent
    release();
    lockStack(root, "s1")();
    // A lock left by a process that no longer exists.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeFileSync(join(root, ".serverpark", "lab", "s1.lock"), dead);
    const taken = lockStack(root, "s1");
    expect(readFileSync(join(root, ".serverpark", "lab", "s1.lock"), "utf8")).toBe(String(process.pid));
    taken();
  });
});

describe("what the lab shows", () => {
  it("lists endpoints by address, one row per published port, with all its protocols", () => {
    expect(
      endpointRows({ "ns-0/dns": "127.0.0.1:20004", "edge-0/https": "127.0.0.1:20001", "ns-0/dns-tcp": "127.0.0.1:20004", "noc-0/noc": "127.0.0.1:20011" }),
    ).toEqual([
      ["127.0.0.1:20001", "edge-0 https"],
      ["127.0.0.1:20004", "ns-0 dns, dns-tcp"],
      ["127.0.0.1:20011", "noc-0 noc"],
    ]);
  });

  it("rebuilds images when the image they start FROM changes: it knows which images those are", () => {
    expect(baseImages("ARG V=1\nFROM node:24-bookworm-slim\nRUN x\n")).toEqual(["node:24-bookworm-slim"]);
    expect(baseImages("FROM --platform=linux/amd64 debian:12 AS build\nFROM build\nFROM scratch\nFROM node:24 as run\n")).toEqual(["debian:12", "node:24"]);
  });
});

describe("serverpark lab: bad input is refused before anything is touched", () => {
  function variant(edits: [string, string][]): string {
    let text = readFileSync(join(ROOT, "stacks", "Pulumi.local.yaml"), "utf8");
    for (const [from, to] of edits) {
      expect(text.includes(from), `edit ${from} applies`).toBe(true);
      text = text.replace(from, to);
    }
    const path = join(mkdtempSync(join(tmpdir(), "sp-lab-")), "Pulumi.labbad.yaml");
    writeFileSync(path, text);
    return path;
  }

  it("prints for an invalid stack exactly what `validate` prints, and exits 1", async () => {
    const file = variant([
      ["name: fra1\n", "name: labbad\n"],
      ["{ id: www, role: web, replicas: 2, plan: vps-s", "{ id: www, role: web, replicas: 2, plan: vps-xl"],
      ["psus: [r1-pdu-a]", "psus: [r9-pdu-a]"],
    ]);
    const validate = captureIo();
    expect(await main(["validate", file], validate)).toBe(1);
    const lab = captureIo();
    expect(await main(["lab", "up", file], lab)).toBe(1);
    expect(lab.stderr).toBe(validate.stderr);
    expect(lab.stderr).toMatch(/vps-xl/);
    expect(lab.stderr).toMatch(/r9-pdu-a/);
    const json = captureIo();
    expect(await main(["lab", "up", file, "--json"], json)).toBe(1);
    expect((JSON.parse(json.stdout) as { ok: boolean; issues: unknown[] }).issues.length).toBeGreaterThanOrEqual(2);
    if (dockerTestsEnabled()) {
      const made = execFileSync("docker", ["ps", "-a", "--filter", "label=serverpark.datacenter=labbad", "--format", "{{.Names}}"]).toString();
      expect(made).toBe("");
    }
  });

  it("refuses a Hetzner stack and encrypted config, which only the Pulumi CLI can deploy", async () => {
    const hetzner = captureIo();
    expect(await main(["lab", "up", "hetzner"], hetzner)).toBe(1);
    expect(hetzner.stderr).toMatch(/serverpark:target "hetzner"; the lab deploys only to the local Docker engine/);
    const secret = variant([["  serverpark:target: docker\n", "  serverpark:target: docker\n  serverpark:token:\n    secure: AAABAJ==\n"]]);
    const io = captureIo();
    expect(await main(["lab", "up", secret], io)).toBe(1);
    expect(io.stderr).toMatch(/encrypted config \(serverpark:token\)/);
  });

  it("answers usage errors with exit 2 and the usage", async () => {
    for (const argv of [
      ["lab", "deploy", "local"],
      ["lab", "up", "local", "--timeout", "0"],
      ["lab", "down", "local", "--timeout", "5"],
      ["lab", "up"],
    ]) {
      const io = captureIo();
      expect(await main(argv, io), argv.join(" ")).toBe(2);
      expect(io.stderr).toMatch(/Usage: serverpark lab up/);
    }
  });

  it.runIf(dockerTestsEnabled())("says a stack that is not deployed is not, and `down` is then ok", async () => {
    const status = captureIo();
    expect(await main(["lab", "status", "never-deployed", "--json"], status)).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ stack: "never-deployed", deployed: false, containers: [] });
    const down = captureIo();
    expect(await main(["lab", "down", "never-deployed"], down)).toBe(0);
    expect(down.stdout).toMatch(/not deployed by serverpark lab; nothing to remove/);
  });
});

describe("scripts/pulumi-available.sh: which way `npm run up` deploys", () => {
  const script = join(ROOT, "scripts", "pulumi-available.sh");
  /** Runs the script with an `npx` on the PATH that prints `lines` and exits `code`. */
  function withNpx(code: number, lines: string, env: Record<string, string> = {}) {
    const bin = mkdtempSync(join(tmpdir(), "sp-npx-"));
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "npx"), `#!/bin/sh\nprintf '%b\\n' ${JSON.stringify(lines)}\nexit ${code}\n`);
    chmodSync(join(bin, "npx"), 0o755);
    return spawnSync("bash", [script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SERVERPARK_DEPLOY: "", ...env }, encoding: "utf8" });
  }

  it("says no, with the reason, when the CLI download fails", () => {
    const r = withNpx(1, "Downloading pulumi v3.265.0...\npulumi: fetch failed");
    expect(r.status).toBe(1);
    expect(r.stdout.trim()).toBe("pulumi: fetch failed");
  });

  it("says yes, with the version, when the CLI runs", () => {
    const r = withNpx(0, "v3.265.0");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("pulumi v3.265.0");
  });

  it("follows SERVERPARK_DEPLOY and refuses a value it does not know", () => {
    expect(withNpx(0, "v3", { SERVERPARK_DEPLOY: "lab" }).status).toBe(1);
    expect(withNpx(1, "no", { SERVERPARK_DEPLOY: "pulumi" }).status).toBe(0);
    const bad = withNpx(0, "v3", { SERVERPARK_DEPLOY: "cloud" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/SERVERPARK_DEPLOY must be pulumi, lab or auto/);
  });
});
