/**
 * `pulumi preview --json` → resource steps grouped by datacenter part. The fixtures follow
 * the preview digest of the Pulumi CLI v3 (PreviewDigest: steps with op, urn, provider,
 * oldState, newState, diffReasons, replaceReasons, detailedDiff; as printed by the pinned CLI, pulumi 3.265).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../components/diff/input";
import { groupPreview, parsePreview, partOf, splitUrn, type PartNames } from "../../components/diff/preview";
import { FIXTURES } from "./cases";

const NAMES: PartNames = {
  datacenter: "fra1",
  services: ["www", "edge", "ns", "mail", "files", "db", "arena", "noc"],
  hosts: ["h1", "h2", "h3", "h4", "h5", "h6", "h7"],
  networks: ["public", "private", "mgmt"],
};
const fixture = (name: string) => parsePreview(readFileSync(join(FIXTURES, "preview", name), "utf8"), name);

describe("preview JSON", () => {
  it("splits URNs into type and name, keeping '::' inside names", () => {
    expect(splitUrn("urn:pulumi:local::serverpark::serverpark:index:Datacenter$docker:index/network:Network::fra1-net-public")).toEqual({
      type: "docker:index/network:Network",
      name: "fra1-net-public",
    });
    expect(splitUrn("urn:pulumi:s::p::t::a::b").name).toBe("a::b");
  });

  it("maps resource names to datacenter parts, longest id first", () => {
    const names = { ...NAMES, services: ["web", "web-2"] };
    expect(partOf("fra1-svc-web-2-0", names)).toEqual({ part: "service web-2", replica: "web-2-0" });
    expect(partOf("fra1-svc-web-2", names)).toEqual({ part: "service web-2" });
    expect(partOf("fra1-svc-db-0-data", NAMES)).toEqual({ part: "service db", replica: "db-0" });
    expect(partOf("fra1-host-h5-agent", NAMES).part).toBe("host h5");
    expect(partOf("fra1-net-mgmt", NAMES).part).toBe("network mgmt");
    expect(partOf("fra1-image-web", NAMES).part).toBe("datacenter fra1");
    expect(partOf("default_5_2_0", NAMES).part).toBe("other");
  });

  it("groups the scaled preview under its services and leaves out 'same' steps", () => {
    const g = groupPreview(fixture("scaled.json"), NAMES);
    expect(g.groups.map((x) => x.part)).toEqual(["service ns", "service www"]);
    const www = g.groups.find((x) => x.part === "service www")!.steps;
    expect(www.map((s) => `${s.kind} ${s.name}`)).toEqual(["update fra1-svc-www-0", "update fra1-svc-www-1", "create fra1-svc-www-2"]);
    expect(www[0]!.properties).toEqual(["uploads", "uploads[0].content"]);
    expect(g.counts).toEqual({ create: 1, update: 4, replace: 0, delete: 0, other: 0 });
    expect(g.dataAtRisk).toEqual([]);
    expect(g.diagnostics).toHaveLength(1);
  });

  it("folds create-replacement/replace/delete-replaced into one replace and puts stateful ones at risk", () => {
    const g = groupPreview(fixture("host-removed.json"), NAMES);
    expect(g.counts).toEqual({ create: 0, update: 0, replace: 3, delete: 2, other: 0 });
    expect(g.dataAtRisk.map((s) => `${s.kind} ${s.type} ${s.name}`)).toEqual(["replace docker:index/volume:Volume fra1-svc-files-0-data"]);
    const files = g.groups.find((x) => x.part === "service files")!.steps;
    expect(files.find((s) => s.name === "fra1-svc-files-0")).toMatchObject({
      kind: "replace",
      ops: ["create-replacement", "delete-replaced", "replace"],
      replaceBecause: ["envs"],
      stateful: false,
    });
    expect(g.groups.map((x) => x.part)).toEqual(["host h5", "service edge", "service files"]);
  });

  it("gives the same grouping whatever the step order", () => {
    const raw = fixture("host-removed.json");
    const reversed = { ...raw, steps: [...(raw.steps ?? [])].reverse() };
    expect(JSON.stringify(groupPreview(reversed, NAMES))).toBe(JSON.stringify(groupPreview(raw, NAMES)));
  });

  it("explains input that is not a preview", () => {
    expect(() => parsePreview("Previewing update (local):", "p.json")).toThrow(InputError);
    expect(() => parsePreview("Previewing update (local):", "p.json")).toThrow(/p\.json is not JSON/);
    expect(() => parsePreview(JSON.stringify({ steps: [{ urn: 3 }] }), "p.json")).toThrow(/p\.json: steps\.0\.op: /);
    expect(groupPreview(parsePreview("{}"), NAMES).groups).toEqual([]);
  });
});
