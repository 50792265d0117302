/**
 * The runtime config is one schema (contracts/runtimeConfig.ts): what the program writes for
 * every replica of a real stack parses on the server side, and a file missing a field the
 * program always writes is refused with its name instead of being filled with a guess.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadPlan } from "../../cli/stack";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { ROLE_INFO, rolePort } from "../../contracts/roles";
import { replicaRuntimeConfigSchema } from "../../contracts/runtimeConfig";
import { parseReplicaConfig, STANDALONE_CONFIG } from "../../images/runtime/replica";

const ROOT = join(__dirname, "..", "..");
const anySettings = z.record(z.string(), z.unknown());

describe("the replica runtime config contract", () => {
  it("parses what the program writes for every replica of the local stack, unchanged", () => {
    const { plan } = loadPlan("local", ROOT);
    expect(plan.replicas.length).toBeGreaterThan(5);
    for (const replica of plan.replicas) {
      const service = plan.services.find((s) => s.id === replica.service)!;
      const written = JSON.parse(JSON.stringify(replicaRuntimeConfig(plan, replica, service)));
      const parsed = parseReplicaConfig(JSON.stringify(written), anySettings, replica.id);
      expect(parsed).toEqual(written);
    }
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
