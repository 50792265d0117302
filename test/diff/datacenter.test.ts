/**
 * The datacenter-level diff on real stack files: host added, service scaled, network CIDR
 * changed, feed removed (redundancy drops and is flagged), host removed (replicas must move,
 * called out), no-op, and a stack that is new in the change.
 */
import { describe, expect, it } from "vitest";
import { diffDatacenters } from "../../components/diff/datacenter";
import { countLine, redundancyDrops } from "../../components/diff/format";
import { renderDiffText } from "../../components/diff/render";
import { sideFromFile } from "../../cli/commands/diff";
import { allocateHostPorts } from "../../components/targets/docker/hostPorts";
import { CASES, diffOf, load, ROOT } from "./cases";

const byName = (name: string) => diffOf(CASES.find((c) => c.name === name)!).diff;
const summaries = (name: string) => byName(name).changes.map((c) => c.summary);

describe("datacenter diff", () => {
  it("no-op: the same stack on both sides is an empty diff that says so", () => {
    const diff = byName("noop");
    expect(diff.empty).toBe(true);
    expect(diff.changes).toEqual([]);
    expect(diff.moves).toEqual([]);
    expect(countLine(diff)).toBe("no datacenter changes");
    expect(renderDiffText(diff, "x")).toContain("x: no datacenter changes");
    expect(diff.headroom.every((h) => !h.changed)).toBe(true);
  });

  it("no-op on the live local stack as well (the real file, with its real lock)", () => {
    const local = sideFromFile("local", ROOT);
    const diff = diffDatacenters(local.side, local.side);
    expect(diff.empty).toBe(true);
  });

  it("host added: one line names its rack and feeds, nothing moves", () => {
    const diff = byName("host-added");
    expect(summaries("host-added")).toContain("+ host h8 in rack r2 on feeds A+B (virtualization, 32 cpus, 128 GB memory, 4000 GB disk)");
    expect(diff.moves).toEqual([]);
    expect(diff.renumbered).toEqual([]);
    const h8 = diff.headroom.find((h) => h.host === "h8")!;
    expect(h8.changed).toBe(true);
    expect(h8.before).toBeUndefined();
    // Its agent joins the management network: one address, none renumbered.
    expect(summaries("host-added")).toContain("~ network mgmt: CIDR unchanged, 1 address added");
  });

  it("service scaled: replicas 2 → 3 with the new replica's host, existing ones stay", () => {
    const diff = byName("scaled");
    const www = diff.changes.find((c) => c.part === "service" && c.id === "www")!;
    expect(www.summary).toMatch(/^~ www: replicas 2 → 3, new replica www-2 on h\d+$/);
    expect(diff.moves).toEqual([]);
    expect(diff.renumbered).toEqual([]);
    expect(summaries("scaled")).toContain("~ network private: CIDR unchanged, 1 address added");
    expect(diff.headroom.filter((h) => h.changed)).toHaveLength(1);
  });

  it("network CIDR changed: every member renumbered, listed and counted", () => {
    const diff = byName("cidr");
    const net = diff.changes.find((c) => c.part === "network" && c.id === "private")!;
    expect(net.summary).toBe("~ network private: CIDR 10.42.1.0/24 → 10.42.9.0/24, gateway 10.42.1.1 → 10.42.9.1, 10 addresses renumbered");
    expect(diff.renumbered).toHaveLength(10);
    expect(diff.renumbered[0]).toEqual({ network: "private", member: "replica:www-0", from: "10.42.1.10", to: "10.42.9.10" });
    expect(diff.moves).toEqual([]);
    // The reverse zone follows the network.
    expect(diff.changes.filter((c) => c.part === "dns").map((c) => `${c.op} ${c.id}`)).toEqual(
      expect.arrayContaining(["add 9.42.10.in-addr.arpa", "remove 1.42.10.in-addr.arpa"]),
    );
  });

  it("feed removed: hosts lose a feed and the N-1 verdict drops, flagged as WORSE", () => {
    const diff = byName("feed-removed");
    expect(summaries("feed-removed")[0]).toBe("- feed B (powered h1, h2, h4, h5, h6, h7)");
    expect(summaries("feed-removed")).toContain("~ host h1: PSUs r1-pdu-a+r1-pdu-b → r1-pdu-a, feeds A+B → feed A (loses a feed)");
    expect(diff.redundancy.available).toBe(true);
    const worse = diff.redundancy.rows.filter((r) => r.worse).map((r) => r.service);
    // The redundant services survived any single failure with two feeds; on one feed, feed A takes them down.
    expect(worse).toEqual(expect.arrayContaining(["www", "edge", "ns"]));
    for (const s of ["www", "edge", "ns"]) {
      const row = diff.redundancy.rows.find((r) => r.service === s)!;
      expect(row.before?.survives, s).toBe(true);
      expect(row.after?.survives, s).toBe(false);
      expect(row.after?.failures, s).toContain("feed A");
    }
    expect(redundancyDrops(diff).join("\n")).toContain("www: survives N-1 → fails on");
    expect(renderDiffText(diff, "x")).toContain("!! REDUNDANCY DROPS (N-1):");
  });

  it("host removed: its replicas must move, and the diff says so loudly", () => {
    const diff = byName("host-removed");
    expect(diff.moves.map((m) => m.replica).sort()).toEqual(["edge-1", "files-0"]);
    const files = diff.moves.find((m) => m.replica === "files-0")!;
    expect(files).toMatchObject({ stateful: true, from: { host: "h5" } });
    expect(diff.changes.find((c) => c.part === "host")).toMatchObject({ op: "remove", id: "h5", details: ["ran edge-1, files-0"] });
    const text = renderDiffText(diff, "x");
    expect(text).toContain("!! REPLICAS MOVE");
    expect(text).toMatch(/!! {3}files-0 moves h5 .* STATEFUL/);
    expect(countLine(diff)).toContain("2 replicas MOVED");
  });

  it("a stack new in the change: everything is added, nothing is judged worse", () => {
    const diff = byName("new-stack");
    expect(diff.datacenter).toEqual({ after: "fra1" });
    expect(diff.changes.every((c) => c.op === "add")).toBe(true);
    expect(diff.changes.filter((c) => c.part === "host")).toHaveLength(7);
    expect(diff.redundancy.rows.some((r) => r.worse)).toBe(false);
  });

  it("is deterministic: the same inputs give the same diff", () => {
    for (const c of CASES) expect(JSON.stringify(diffOf(c).diff), c.name).toBe(JSON.stringify(diffOf(c).diff));
  });

  it("shows changed setting keys but never their values", () => {
    const base = load("base");
    const spec = structuredClone(base.side!.spec) as any;
    spec.services[0].settings = { apiToken: "s3cr3t-value-1", theme: "dark" };
    const diff = diffDatacenters(base.side, { spec, plan: base.side!.plan });
    const text = JSON.stringify(diff) + renderDiffText(diff, "x");
    expect(text).toContain("settings changed: +apiToken, +theme (values not shown)");
    expect(text).not.toContain("s3cr3t-value-1");
    expect(text).not.toContain("dark");
  });
  it("published port moved on the Docker target: the diff names the old and new host port", () => {
    const local = sideFromFile("local", ROOT);
    const ports = allocateHostPorts(local.side!.spec.docker, local.side!.plan, { ...local.side!.hostPorts!.lock, "edge-0:443": 40443 });
    if (!ports.ok) throw new Error("allocation failed");
    const diff = diffDatacenters(local.side, { ...local.side!, hostPorts: ports.ports });
    const edge = diff.changes.find((c) => c.part === "service" && c.id === "edge")!;
    const was = local.side!.hostPorts!.lock["edge-0:443"];
    expect(edge.summary).toBe("~ edge: published ports change");
    expect(edge.details).toEqual([`edge-0 443/tcp published on 127.0.0.1:40443 (internet) (was 127.0.0.1:${was} (internet))`]);
  });
});
