/** What the chaos benchmarks share: a copy of the local stack under its own name, networks and ports, and the CLI. */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadStackFile } from "../../components/spec/load";

export const root = join(__dirname, "..", "..");
export const NAME = "spbench";
export const load = () => loadavg()[0]!.toFixed(1);

/** The local stack renamed `name`, on 10.42.<net>-<net+3>.0/24 and host ports from `basePort`: a stack file in a temporary folder. */
export function stackFile(name: string, basePort: number, net: number): string {
  const file = loadStackFile("local");
  const spec = structuredClone(file.config["serverpark:datacenter"]) as any;
  spec.name = name;
  spec.domain = `${name}.park.test`;
  const renumber: Record<string, string> = {
    "10.42.0.0/24": `10.42.${net}.0/24`,
    "10.42.1.0/24": `10.42.${net + 1}.0/24`,
    "10.42.2.0/24": `10.42.${net + 2}.0/24`,
  };
  for (const n of spec.networks) n.cidr = renumber[n.cidr] ?? n.cidr;
  spec.docker = { ...(spec.docker ?? {}), basePort, operatorCidr: `10.42.${net + 3}.0/24` };
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-chaos-"));
  const path = join(dir, `Pulumi.${name}.yaml`);
  writeFileSync(path, stringify({ config: { ...file.config, "serverpark:datacenter": spec } }));
  return path;
}

/** `serverpark <args>` as a child process; stderr shown live unless quiet. */
export function serverpark(args: string[], quiet = true): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "bin/serverpark.js"), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
      if (!quiet) process.stderr.write(c);
    });
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
