/**
 * What the Hetzner target refuses, and where it says the problem is: a table of bad inputs,
 * each with the config path and a piece of the message.
 */
import { describe, expect, it } from "vitest";
import { checkHetzner, hostNetworks } from "../../components/targets/hetzner/settings";
import { formatPath } from "../../components/spec/issues";
import { specWith } from "./fixture";

function issuesOf(edit: (raw: Record<string, any>) => void) {
  const { spec, plan } = specWith(edit);
  const check = checkHetzner(spec, plan);
  return check.ok ? [] : check.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

describe("checkHetzner", () => {
  it("accepts the Hetzner stack and decides a type, location and group per host", () => {
    const { spec, plan } = specWith();
    const check = checkHetzner(spec, plan);
    if (!check.ok) throw new Error(JSON.stringify(check.issues));
    const d = check.resolution.hosts;
    expect(d.get("h1")).toMatchObject({ location: "fsn1", placementGroup: "feed-a-b", serverType: { name: "cx42" } });
    expect(d.get("h3")).toMatchObject({ location: "fsn1", placementGroup: "feed-a-b", serverType: { name: "ccx33" } });
    expect(d.get("h6")).toMatchObject({ location: "nbg1", placementGroup: "feed-b", serverType: { name: "ccx33" } });
    expect(check.resolution.networkZone).toBe("eu-central");
  });

  it.each([
    ["unknown location", (r: any) => (r.hetzner.location = "fra9"), "hetzner.location", /unknown Hetzner location "fra9"/],
    ["location outside the allowed ones", (r: any) => (r.hetzner.location = "hel1"), "hetzner.location", /not in hetzner.allowedLocations/],
    ["unknown feed location", (r: any) => (r.hetzner.feedLocations = { B: "mars1" }), "hetzner.feedLocations.B", /unknown Hetzner location "mars1"/],
    ["feed that does not exist", (r: any) => (r.hetzner.feedLocations = { C: "nbg1" }), "hetzner.feedLocations.C", /unknown feed "C"/],
    [
      "locations in two network zones",
      (r: any) => ((r.hetzner.allowedLocations = ["fsn1", "ash"]), (r.hetzner.feedLocations = { B: "ash" })),
      "hetzner.feedLocations",
      /span network zones/,
    ],
    ["unknown server type", (r: any) => (r.hetzner.serverTypes = { h1: "cx99" }), "hetzner.serverTypes.h1", /unknown server type "cx99"/],
    ["server type too small", (r: any) => (r.hetzner.serverTypes = { h1: "cx22" }), "hetzner.serverTypes.h1", /smaller than host h1's capacity/],
    ["shared type on a dedicated host", (r: any) => (r.hetzner.serverTypes = { h3: "cx52" }), "hetzner.serverTypes.h3", /dedicated, but cx52 has shared vCPUs/],
    ["server type for an unknown host", (r: any) => (r.hetzner.serverTypes = { h9: "cx42" }), "hetzner.serverTypes.h9", /unknown host "h9"/],
    [
      "a capacity no server type offers",
      (r: any) => (r.hosts[0].capacity = { cpus: 16, memoryGb: 64, diskGb: 2000 }),
      "hosts[0].capacity",
      /no Hetzner server type offers 16 cpus, 64 GB and 2000 GB disk/,
    ],
    ["missing SSH key", (r: any) => delete r.hetzner.sshKey, "hetzner.sshKey", /is required/],
    ["empty SSH key", (r: any) => (r.hetzner.sshKey = {}), "hetzner.sshKey", /is required/],
    ["missing registry", (r: any) => delete r.hetzner.registry, "hetzner.registry", /is required/],
    ["admin CIDR of the whole internet", (r: any) => (r.hetzner.adminCidrs = ["0.0.0.0/0"]), "hetzner.adminCidrs[0]", /whole internet/],
    ["admin CIDR ::/0", (r: any) => (r.hetzner.adminCidrs = ["::/0"]), "hetzner.adminCidrs[0]", /whole internet/],
    ["malformed admin CIDR", (r: any) => (r.hetzner.adminCidrs = ["10.0.0.1"]), "hetzner.adminCidrs[0]", /not in CIDR notation/],
    ["no admin CIDRs while the NOC publishes", (r: any) => (r.hetzner.adminCidrs = []), "hetzner.adminCidrs", /over SSH and operator ports/],
    [
      "no admin CIDRs, no NOC: the deployment still needs SSH",
      (r: any) => {
        r.hetzner.adminCidrs = [];
        r.services = r.services.filter((s: any) => s.role !== "noc");
      },
      "hetzner.adminCidrs",
      /deployment reaches every server over SSH, which/,
    ],
    [
      "unknown load balancer type",
      (r: any) => (r.hetzner.loadBalancer = { enabled: true, type: "lb99" }),
      "hetzner.loadBalancer.type",
      /unknown load balancer type/,
    ],
    ["public network CIDR", (r: any) => (r.networks[0].cidr = "100.64.0.0/24"), "networks[0].cidr", /not private address space/],
    ["missing hetzner block", (r: any) => delete r.hetzner, "hetzner", /is required for the hetzner target/],
  ])("%s → %s", (_what, edit, path, message) => {
    const issues = issuesOf(edit);
    expect(issues, JSON.stringify(issues)).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it("refuses more servers in one spread group than Hetzner allows", () => {
    const issues = issuesOf((r) => {
      for (let i = 8; i <= 12; i++)
        r.hosts.push({ id: `h${i}`, rack: "r1", kind: "virtualization", psus: ["r1-pdu-a", "r1-pdu-b"], capacity: { cpus: 8, memoryGb: 16, diskGb: 160 } });
    });
    expect(issues).toContainEqual({ path: "hetzner.placement", message: expect.stringMatching(/feed-a-b would hold 11 servers \(h1, h2, h3, h4, h5, h7, h8/) });
  });

  it("refuses two replicas publishing the same port on one server", () => {
    const issues = issuesOf((r) => {
      // A second proxy service on a single-host rack: it must share a host with the first.
      r.hosts = r.hosts.filter((h: any) => ["h1", "h3", "h6", "h7"].includes(h.id));
      r.services = [
        { id: "edge", role: "proxy", replicas: 1, plan: "vps-s", networks: ["public", "private"] },
        { id: "edge2", role: "proxy", replicas: 1, plan: "vps-s", networks: ["public", "private"] },
        { id: "noc", role: "noc", replicas: 1, plan: "vps-s", networks: ["mgmt"] },
      ];
    });
    expect(issues).toContainEqual({ path: "services[1]", message: expect.stringMatching(/both publish 443\/tcp on host h1's public address/) });
  });

  it("reports every problem at once", () => {
    const issues = issuesOf((r) => {
      r.hetzner.location = "xyz";
      delete r.hetzner.sshKey;
      delete r.hetzner.registry;
      r.hetzner.adminCidrs = ["0.0.0.0/0"];
    });
    expect(issues.map((i) => i.path).sort()).toEqual(["hetzner.adminCidrs[0]", "hetzner.location", "hetzner.registry", "hetzner.sshKey"]);
  });

  it("joins a server to the management network and its replicas' networks only", () => {
    const { plan } = specWith();
    const byHost = Object.fromEntries(plan.hosts.map((h) => [h.id, hostNetworks(plan, h)]));
    for (const host of plan.hosts) {
      const expected = new Set(["mgmt", ...host.replicas.flatMap((id) => Object.keys(plan.replicas.find((r) => r.id === id)!.addresses))]);
      expect(new Set(byHost[host.id])).toEqual(expected);
    }
  });
});

describe("load balancer and PROXY protocol: both halves or neither", () => {
  const edge = (r: any) => r.services.find((s: any) => s.id === "edge");
  const lbIssues = (edit: (r: any) => void) => issuesOf(edit).filter((i) => i.path.startsWith("hetzner.loadBalancer") || /proxyProtocol|settings/.test(i.path));

  it("accepts the stack: the balancer at offset 2 of the proxies' internet network, the proxies trusting exactly that", () => {
    const { spec, plan } = specWith();
    const check = checkHetzner(spec, plan);
    if (!check.ok) throw new Error(JSON.stringify(check.issues));
    expect(check.resolution.loadBalancer).toEqual({ network: "public", privateIp: "10.42.0.2", ports: [80, 443], hosts: ["h2", "h5"] });
  });

  it.each([
    [
      "a balancer sending PROXY headers to a proxy that does not expect them",
      (r: any) => delete edge(r).settings,
      "services[1].settings",
      /sends the PROXY protocol to service edge, which does not expect it.*\["10\.42\.0\.2\/32"\]/,
    ],
    [
      "a proxy trusting PROXY headers from the whole internet",
      (r: any) => (edge(r).settings.proxyProtocol.from = ["0.0.0.0/0"]),
      "services[1].settings.proxyProtocol.from",
      /trusts PROXY headers from 0\.0\.0\.0\/0; .* exactly \["10\.42\.0\.2\/32"\]/,
    ],
    [
      "a proxy trusting the balancer's whole network (any replica on it could forge)",
      (r: any) => (edge(r).settings.proxyProtocol.from = ["10.42.0.0/24"]),
      "services[1].settings.proxyProtocol.from",
      /trusts PROXY headers from 10\.42\.0\.0\/24/,
    ],
    [
      "a proxy trusting the balancer and someone else",
      (r: any) => (edge(r).settings.proxyProtocol.from = ["10.42.0.2/32", "198.51.100.7/32"]),
      "services[1].settings.proxyProtocol.from",
      /trusts PROXY headers from 10\.42\.0\.2\/32, 198\.51\.100\.7\/32/,
    ],
    [
      "a proxy trusting PROXY headers with no balancer in front",
      (r: any) => (r.hetzner.loadBalancer.enabled = false),
      "services[1].settings.proxyProtocol",
      /hetzner\.loadBalancer is not enabled/,
    ],
    [
      "a balancer address another replica is planned at",
      (r: any) => (r.hetzner.loadBalancer.privateIp = "10.42.0.12"),
      "hetzner.loadBalancer.privateIp",
      /10\.42\.0\.12 is planned for ns-0 on network public/,
    ],
    [
      "a balancer address outside its network",
      (r: any) => (r.hetzner.loadBalancer.privateIp = "10.42.1.2"),
      "hetzner.loadBalancer.privateIp",
      /not a usable address of network public/,
    ],
    [
      "the network's gateway as the balancer's address",
      (r: any) => (r.hetzner.loadBalancer.privateIp = "10.42.0.1"),
      "hetzner.loadBalancer.privateIp",
      /gateway/,
    ],
    [
      "more proxy servers than the balancer type forwards to",
      (r: any) => {
        for (let i = 8; i <= 33; i++)
          r.hosts.push({ id: `h${i}`, rack: "r2", kind: "virtualization", psus: ["r2-pdu-a"], capacity: { cpus: 8, memoryGb: 16, diskGb: 160 } });
        r.hetzner.placement = "rack";
        edge(r).replicas = 26;
      },
      "hetzner.loadBalancer.type",
      /lb11 forwards to at most 25 servers; 26 run a proxy replica/,
    ],
  ])("%s → %s", (_what, edit, path, message) => {
    const issues = lbIssues(edit);
    expect(issues, JSON.stringify(issues)).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it("accepts a configured balancer address when the proxies trust that one", () => {
    const issues = lbIssues((r) => {
      r.hetzner.loadBalancer.privateIp = "10.42.0.7";
      edge(r).settings.proxyProtocol.from = ["10.42.0.7/32"];
    });
    expect(issues).toEqual([]);
  });

  it("accepts neither half: no balancer, proxies without PROXY protocol", () => {
    const issues = lbIssues((r) => {
      r.hetzner.loadBalancer.enabled = false;
      delete edge(r).settings;
    });
    expect(issues).toEqual([]);
  });
});
