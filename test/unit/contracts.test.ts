/**
 * The runtime config is one schema (contracts/runtimeConfig.ts): what the program writes for
 * every replica of a real stack parses on the server side, and a file missing a field the
 * program always writes is refused with its name instead of being filled with a guess.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadPlan } from "../../cli/stack";
import { replicaLaunch, type ReplicaLaunch } from "../../components/model/launch";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { ROLE_VIEW_PATH, RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import { ROLE_INFO, rolePort } from "../../contracts/roles";
import { replicaRuntimeConfigSchema } from "../../contracts/runtimeConfig";
import { parseReplicaConfig, readReplicaConfig, STANDALONE_CONFIG } from "../../images/runtime/replica";

const ROOT = join(__dirname, "..", "..");

/** Writes a launch's config and view files into a folder, as a target hands them to the container. */
function handedOver(launch: ReplicaLaunch): string {
  const dir = mkdtempSync(join(tmpdir(), "sp-config-"));
  for (const f of launch.files.filter((x) => x.path === RUNTIME_CONFIG_PATH || x.path === ROLE_VIEW_PATH)) {
    writeFileSync(join(dir, basename(f.path)), f.source ? readFileSync(f.source.path) : String(f.content));
  }
  return dir;
}
const anySettings = z.record(z.string(), z.unknown());

describe("the replica runtime config contract", () => {
  it("parses what the program writes for every replica of the local stack, its view file included, unchanged", () => {
    const { plan } = loadPlan("local", ROOT);
    expect(plan.replicas.length).toBeGreaterThan(5);
    const withViews = new Set<string>();
    for (const replica of plan.replicas) {
      const service = plan.services.find((s) => s.id === replica.service)!;
      const dir = handedOver(replicaLaunch(plan, replica, service, [], []));
      const parsed = readReplicaConfig(join(dir, "config.json"), anySettings);
      const { view, ...rest } = parsed;
      if (view) withViews.add(service.role);
      expect(rest).toEqual(JSON.parse(JSON.stringify(replicaRuntimeConfig(plan, replica, service))));
    }
    // The roles whose view grows with the datacenter get it in a file of its own (file, web and
    // mail: with the hosting customers they serve, which the local stack has).
    expect([...withViews].sort()).toEqual(["dns", "file", "mail", "noc", "proxy", "web"]);
  });

  it("refuses a view file that is not the one the config names, or is missing", () => {
    const { plan } = loadPlan("local", ROOT);
    const replica = plan.replicas.find((r) => r.role === "dns")!;
    const dir = handedOver(
      replicaLaunch(
        plan,
        replica,
        plan.services.find((s) => s.id === replica.service)!,
        [],
        [],
      ),
    );
    writeFileSync(join(dir, "view.json"), '{"zones":[]}');
    expect(() => readReplicaConfig(join(dir, "config.json"), anySettings)).toThrow(
      /view\.json: SHA-256 [0-9a-f]{64} is not the [0-9a-f]{64} that .*config\.json names/,
    );
    rmSync(join(dir, "view.json"));
    expect(() => readReplicaConfig(join(dir, "config.json"), anySettings)).toThrow(/cannot read the view file .*view\.json that .*config\.json names: ENOENT/);
  });

  it("refuses a file without a field the program always writes, naming it", () => {
    const { domain: _domain, networks: _networks, ...partial } = STANDALONE_CONFIG;
    expect(() => parseReplicaConfig(JSON.stringify(partial), anySettings)).toThrow(/config\.domain: .*\n?[\s\S]*config\.networks: /);
  });

  it("a bare `docker run` (no file) gets the standalone config, which the schema accepts", () => {
    expect(replicaRuntimeConfigSchema.parse(STANDALONE_CONFIG)).toEqual(STANDALONE_CONFIG);
  });
});

describe("role ports", () => {
  it("servers default to the catalogue's port by name, and an unknown name is refused", () => {
    expect(rolePort("proxy", "https")).toBe(443);
    expect(rolePort("mail", "submission")).toBe(ROLE_INFO.mail.ports.find((p) => p.name === "submission")!.port);
    expect(() => rolePort("web", "ftp")).toThrow(/role web has no port named "ftp" \(have: http, https\)/);
  });
});
