/**
 * The real program on the Hetzner stack's config, under Pulumi mocks: which hcloud resources
 * it would create, with which inputs, what the deployment copies to each server over SSH —
 * and that every secret stays secret and out of user data.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FTP_PASSIVE_PORTS, ROLE_INFO } from "../../contracts/roles";
import { roleImageSource } from "../../components/targets/docker/images";
import { replicaPorts } from "../../components/targets/hetzner/containers";
import { firewallRules } from "../../components/targets/hetzner/firewall";
import { hcloudAddresses, isSecretValue, runUnderMocks, unwrapSecrets, valueOf, type MockRun, type RecordedResource } from "../support/pulumiMocks";
import { cloudInitSchema, hasTool, shellcheck } from "./tools";
import { copiesOf, type Copied } from "./deployed";
import { rawSpec, REGISTRY_PASSWORD, specWith, stackFile } from "./fixture";

const T = {
  server: "hcloud:index/server:Server",
  network: "hcloud:index/network:Network",
  subnet: "hcloud:index/networkSubnet:NetworkSubnet",
  firewall: "hcloud:index/firewall:Firewall",
  placement: "hcloud:index/placementGroup:PlacementGroup",
  volume: "hcloud:index/volume:Volume",
  attach: "hcloud:index/volumeAttachment:VolumeAttachment",
  primaryIp: "hcloud:index/primaryIp:PrimaryIp",
  lb: "hcloud:index/loadBalancer:LoadBalancer",
  lbService: "hcloud:index/loadBalancerService:LoadBalancerService",
  lbTarget: "hcloud:index/loadBalancerTarget:LoadBalancerTarget",
  lbNetwork: "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork",
  rdns: "hcloud:index/rdns:Rdns",
  image: "docker:index/image:Image",
  container: "docker:index/container:Container",
  command: "command:remote:Command",
  copy: "command:remote:CopyToRemote",
};

/** The balancer's private address: offset 2 of the "public" network, as the stack's proxies trust it. */
const LB_IP = "10.42.0.2";

let run: MockRun<typeof import("../../stacks/index.js")>;
const { plan } = specWith();
const deployable = (role: string) => roleImageSource(role) !== undefined;

beforeAll(async () => {
  run = await runUnderMocks(() => import("../../stacks/index.js"), {
    stack: "hetzner",
    config: { ...stackFile.config, "serverpark:registryPassword": REGISTRY_PASSWORD },
  });
  copies = await copiesOf(run);
}, 120_000);

const serverOf = (host: string) => run.byType(T.server).find((s) => s.inputs.name === `fsn-${host}`)!;
const idOf = (type: string, pred: (r: RecordedResource) => boolean) => Number(run.byType(type).find(pred)!.id);

/** The server's user data: plain (it holds no secret), YAML. */
function cloudInit(host: string): { raw: string; doc: any } {
  const userData = serverOf(host).rawInputs.userData;
  expect(isSecretValue(userData), `userData of ${host} is no secret`).toBe(false);
  return { raw: userData as string, doc: parse(userData as string) };
}

/** Resource name prefixes of what the deployment does on a host's server: its own, its agent's, its replicas'. */
const prefixesOf = (host: string) => [`fsn-host-${host}-`, ...plan.hosts.find((h) => h.id === host)!.replicas.map((id) => `fsn-svc-${id}-`)];

let copies: Copied[];
/** What the deployment copies to a host's server: remote path → content. */
const fileOn = (host: string, path: string) => copies.find((c) => c.remotePath === path && prefixesOf(host).some((p) => c.name.startsWith(p)))?.content;

describe("hetzner stack under mocks", () => {
  it("creates only Hetzner and image resources, no local containers", () => {
    expect(run.byType(T.container)).toEqual([]);
    const types = new Set(run.resources.filter((r) => !r.type.startsWith("serverpark:") && !r.type.startsWith("pulumi:")).map((r) => r.type.split(":")[0]));
    for (const t of types) expect(["hcloud", "docker", "tls", "random", "command"]).toContain(t);
  });

  it("creates one server per host with the smallest fitting type, in its feed's location", () => {
    const servers = run.byType(T.server);
    expect(servers.map((s) => s.inputs.name).sort()).toEqual(plan.hosts.map((h) => `fsn-${h.id}`).sort());
    const types = Object.fromEntries(servers.map((s) => [s.inputs.name, s.inputs.serverType]));
    expect(types).toEqual({ "fsn-h1": "cx42", "fsn-h2": "cx42", "fsn-h4": "cx42", "fsn-h5": "cx42", "fsn-h3": "ccx33", "fsn-h6": "ccx33", "fsn-h7": "ccx33" });
    for (const s of servers) {
      expect(s.inputs.location).toBe(s.inputs.name === "fsn-h6" ? "nbg1" : "fsn1");
      expect(s.inputs.image).toBe("debian-12");
      expect(s.inputs.sshKeys).toEqual(["serverpark-admin"]);
    }
  });

  it("spreads servers in one placement group per feed set", () => {
    const groups = run.byType(T.placement);
    const feedSets = [...new Set(plan.hosts.map((h) => `fsn-feed-${h.feeds.map((f) => f.toLowerCase()).join("-")}`))].sort();
    expect(feedSets).toEqual(["fsn-feed-a-b", "fsn-feed-b"]);
    expect(groups.map((g) => g.inputs.name).sort()).toEqual(feedSets);
    for (const g of groups) expect(g.inputs.type).toBe("spread");
    for (const host of plan.hosts) {
      const group = `fsn-feed-${host.feeds.map((f) => f.toLowerCase()).join("-")}`;
      expect(serverOf(host.id).inputs.placementGroupId, host.id).toBe(idOf(T.placement, (g) => g.inputs.name === group));
    }
    // Replicas of one service never share a spread group's server (they are on different hosts).
    for (const svc of plan.services) {
      const hosts = svc.replicas.map((id) => plan.replicas.find((r) => r.id === id)!.host);
      expect(new Set(hosts).size).toBe(hosts.length);
    }
  });

  it("creates one network and subnet per planned network, and attaches servers with their planned addresses", () => {
    const nets = run.byType(T.network);
    expect(nets.map((n) => [n.inputs.name, n.inputs.ipRange]).sort()).toEqual(plan.networks.map((n) => [`fsn-${n.id}`, n.cidr]).sort());
    for (const s of run.byType(T.subnet)) expect(s.inputs).toMatchObject({ type: "cloud", networkZone: "eu-central" });
    for (const host of plan.hosts) {
      const attached = serverOf(host.id).inputs.networks as { networkId: number; ip: string; aliasIps: string[] }[];
      for (const net of plan.networks) {
        const expected = [host.addresses[net.id], ...host.replicas.map((id) => plan.replicas.find((r) => r.id === id)!.addresses[net.id])].filter(Boolean);
        const att = attached.find((a) => a.networkId === idOf(T.network, (n) => n.inputs.name === `fsn-${net.id}`));
        if (expected.length === 0) expect(att, `${host.id} not on ${net.id}`).toBeUndefined();
        else expect([att!.ip, ...att!.aliasIps], `${host.id} on ${net.id}`).toEqual(expected);
      }
    }
  });

  it("opens exactly the plan's published ports: internet to all, operator and SSH to admin CIDRs; the balancer's ports only through it", () => {
    const admin = rawSpec.hetzner.adminCidrs as string[];
    for (const host of plan.hosts) {
      const fw = run.byType(T.firewall).find((f) => f.inputs.name === `fsn-${host.id}`)!;
      expect(serverOf(host.id).inputs.firewallIds).toEqual([Number(fw.id)]);
      const got = (fw.inputs.rules as any[]).map((r) => `${r.direction} ${r.protocol}/${r.port} from ${r.sourceIps.join(",")}`).sort();
      const want = new Set([`in tcp/22 from ${admin.join(",")}`]);
      for (const id of host.replicas) {
        const replica = plan.replicas.find((r) => r.id === id)!;
        for (const p of replica.published) {
          // The balancer forwards 80/443 to the proxy over the private network: not open on the public interface.
          if (replica.role === "proxy" && p.protocol === "tcp" && [80, 443].includes(p.port)) continue;
          want.add(`in ${p.protocol}/${p.port} from ${p.audience === "internet" ? "0.0.0.0/0,::/0" : admin.join(",")}`);
        }
      }
      expect(got, host.id).toEqual([...want].sort());
    }
  });

  it("keeps a balanced proxy's 80 and 443 closed on its server's public IPv4, and open without a balancer", () => {
    const proxyHosts = [...new Set(plan.replicas.filter((r) => r.role === "proxy").map((r) => r.host))];
    expect(proxyHosts.length).toBeGreaterThan(1);
    const open = (rules: readonly { protocol: string; port: string; sourceIps: readonly string[] }[]) =>
      rules.filter((r) => r.protocol === "tcp" && ["80", "443"].includes(r.port)).map((r) => `${r.port} from ${r.sourceIps.join(",")}`);
    for (const h of proxyHosts) {
      const fw = run.byType(T.firewall).find((f) => f.inputs.name === `fsn-${h}`)!;
      expect(open(fw.inputs.rules as any[]), h).toEqual([]);
    }
    // Nor does a proxy's unit publish them there: only on its private addresses (the balancer's way in).
    for (const r of plan.replicas.filter((x) => x.role === "proxy")) {
      const unit = fileOn(r.host, `/etc/systemd/system/serverpark-${r.id}.service`)!;
      expect(unit.match(/--publish \$\{SP_PUBLIC_IPV4\}:\S+/g) ?? [], r.id).toEqual([]);
      expect(unit, r.id).toContain(`--publish ${r.addresses.public}:443:443/tcp`);
    }
    // The same stack without the balancer (and so without the proxies' PROXY protocol): the ports are the proxies' own again.
    const direct = specWith((raw) => {
      raw.hetzner.loadBalancer = { enabled: false };
      for (const s of raw.services) if (s.role === "proxy") delete s.settings;
    }).plan;
    for (const h of proxyHosts) {
      const host = direct.hosts.find((x) => x.id === h)!;
      expect(open(firewallRules(direct, host, rawSpec.hetzner.adminCidrs)), h).toEqual(["80 from 0.0.0.0/0,::/0", "443 from 0.0.0.0/0,::/0"]);
      for (const id of host.replicas.filter((x) => direct.replicas.find((r) => r.id === x)!.role === "proxy")) {
        const onPublic = replicaPorts(
          direct,
          direct.replicas.find((r) => r.id === id)!,
        ).filter((p) => p.address === "public");
        expect(onPublic.map((p) => p.port).sort(), id).toEqual([443, 80]);
      }
      // …and with a balancer's ports given, exactly those close.
      expect(open(firewallRules(direct, host, rawSpec.hetzner.adminCidrs, { ports: [443] })), h).toEqual(["80 from 0.0.0.0/0,::/0"]);
    }
  });

  it("never opens management, database, file or operator ports to the whole internet", () => {
    const closed = new Set([22, 9100, 5432, 21, 8080]);
    for (const fw of run.byType(T.firewall)) {
      const { name } = fw.inputs;
      for (const rule of fw.inputs.rules as any[]) {
        if (closed.has(Number(rule.port))) {
          expect(rule.sourceIps, `${name} ${rule.port}`).not.toContain("0.0.0.0/0");
          expect(rule.sourceIps).not.toContain("::/0");
        }
      }
    }
  });

  it("gives every stateful replica a volume in its server's location, attached and mounted there", () => {
    const stateful = plan.replicas.filter((r) => ROLE_INFO[r.role].stateful);
    const volumes = run.byType(T.volume);
    expect(volumes.map((v) => v.inputs.name).sort()).toEqual(stateful.map((r) => `fsn-${r.id}-data`).sort());
    for (const r of stateful) {
      const v = volumes.find((x) => x.inputs.name === `fsn-${r.id}-data`)!;
      expect(v.inputs).toMatchObject({ size: Math.max(10, r.resources.diskGb), format: "ext4", location: serverOf(r.host).inputs.location });
      expect(v.inputs.labels).toMatchObject({ datacenter: "fsn", role: r.role, replica: r.id, rack: r.rack, feed: r.feeds.join("-") });
      const att = run.byType(T.attach).find((a) => a.inputs.volumeId === Number(v.id))!;
      expect(att.inputs.serverId).toBe(Number(serverOf(r.host).id));
      // …and the deployment mounts it, into the container where the role keeps its data.
      const lifecycle = run.byType(T.command).find((c) => c.name === `fsn-svc-${r.id}-container`)!;
      expect(lifecycle.inputs.create).toContain(`/dev/disk/by-id/scsi-0HC_Volume_${v.id} /srv/serverpark/volumes/${r.id} ext4`);
      if (deployable(r.role)) {
        const unit = fileOn(r.host, `/etc/systemd/system/serverpark-${r.id}.service`)!;
        expect(unit).toContain(`--volume /srv/serverpark/volumes/${r.id}:${ROLE_INFO[r.role].dataPath}`);
      }
    }
    expect(stateful.length).toBeGreaterThan(0);
  });

  it("keeps DNS and mail addresses on primary IPs that outlive the server", () => {
    const stableHosts = [...new Set(plan.replicas.filter((r) => (r.role === "dns" || r.role === "mail") && r.published.length > 0).map((r) => r.host))].sort();
    const ips = run.byType(T.primaryIp);
    expect(ips.map((i) => i.inputs.name).sort()).toEqual(stableHosts.map((h) => `fsn-${h}-ipv4`));
    for (const ip of ips) {
      expect(ip.inputs).toMatchObject({ type: "ipv4", autoDelete: false, assigneeType: "server" });
      const host = ip.inputs.name.replace(/^fsn-|-ipv4$/g, "");
      expect(serverOf(host).inputs.publicNets).toEqual([{ ipv4Enabled: true, ipv4: Number(ip.id), ipv6Enabled: true }]);
    }
  });

  it("puts a load balancer in front of the internet-facing proxies, sending the PROXY protocol over the private network", () => {
    expect(run.byType(T.lb)).toHaveLength(1);
    const lbId = Number(run.byType(T.lb)[0]!.id);
    expect(
      run
        .byType(T.lbService)
        .map((s) => [s.inputs.listenPort, s.inputs.destinationPort, s.inputs.protocol, s.inputs.proxyprotocol])
        .sort(),
    ).toEqual([
      [443, 443, "tcp", true],
      [80, 80, "tcp", true],
    ]);
    // The balancer sits on the proxies' internet network at the address they trust.
    const publicNet = idOf(T.network, (n) => n.inputs.name === "fsn-public");
    expect(run.byType(T.lbNetwork).map((n) => n.inputs)).toEqual([{ loadBalancerId: lbId, networkId: publicNet, ip: LB_IP, enablePublicInterface: true }]);
    const proxies = plan.replicas.filter((r) => r.role === "proxy");
    expect(
      run
        .byType(T.lbTarget)
        .map((t) => [t.inputs.serverId, t.inputs.usePrivateIp, t.inputs.loadBalancerId])
        .sort(),
    ).toEqual(proxies.map((r) => [Number(serverOf(r.host).id), true, lbId]).sort());
  });

  it("wires both halves of the PROXY protocol together: each proxy trusts exactly the balancer's address, which reaches it on its own", () => {
    const proxies = plan.replicas.filter((r) => r.role === "proxy");
    expect(proxies.length).toBeGreaterThan(1);
    for (const r of proxies) {
      // What the proxy is told to believe, as delivered to its server.
      const config = JSON.parse(fileOn(r.host, `/etc/serverpark/containers/${r.id}/files/etc_serverpark_config.json`)!);
      expect(config.settings.proxyProtocol.from, r.id).toEqual([`${LB_IP}/32`]);
      // A private-IP target is reached on the server's primary address on that network: the proxy's.
      const publicNet = idOf(T.network, (n) => n.inputs.name === "fsn-public");
      const att = (serverOf(r.host).inputs.networks as { networkId: number; ip: string }[]).find((n) => n.networkId === publicNet)!;
      expect(att.ip, r.id).toBe(r.addresses.public);
      // …where its unit publishes the balancer's ports.
      const unit = fileOn(r.host, `/etc/systemd/system/serverpark-${r.id}.service`)!;
      for (const port of [80, 443]) expect(unit, `${r.id} ${port}`).toContain(`--publish ${r.addresses.public}:${port}:${port}/tcp`);
    }
    // No replica is planned at the balancer's address.
    expect(plan.replicas.flatMap((r) => Object.values(r.addresses))).not.toContain(LB_IP);
  });

  it("gives every public address that serves a name its reverse DNS: MX name, then NS name, then the service's", () => {
    const rdns = run.byType(T.rdns).map((r) => r.inputs);
    const ptrOf = (ip: string) => rdns.filter((r) => r.ipAddress === ip).map((r) => r.dnsPtr);
    const ipOf = (type: string, name: string) => run.byType(type).find((r) => r.inputs.name === name)!;
    /** The addresses the provider gave a resource (the mocks': stable per name). */
    const state = (r: RecordedResource) => hcloudAddresses(r.type, r.name) as Record<string, string> & { ipAddress: string; ipv6Address: string };
    // The mail server's IPv4 (its primary IP: it outlives the server) answers to the MX name, its greeting.
    const mx = plan.zones[0]!.records.find((r) => r.type === "MX")!.data as { exchange: string };
    const mailHost = plan.replicas.find((r) => r.role === "mail")!.host;
    const mailIp = ipOf(T.primaryIp, `fsn-${mailHost}-ipv4`);
    expect(rdns.filter((r) => r.primaryIpId === Number(mailIp.id))).toEqual([
      { primaryIpId: Number(mailIp.id), ipAddress: state(mailIp).ipAddress, dnsPtr: mx.exchange },
    ]);
    expect(ptrOf(state(serverOf(mailHost)).ipv6Address)).toEqual([mx.exchange]);
    // Name servers: their NS names, on the primary IPs the glue records will name.
    const ns = plan.replicas.filter((r) => r.role === "dns").sort((a, b) => a.id.localeCompare(b.id));
    ns.forEach((r, i) => expect(ptrOf(state(ipOf(T.primaryIp, `fsn-${r.host}-ipv4`)).ipAddress), r.id).toEqual([`ns${i + 1}.fsn.park.example`]));
    // A server whose only internet-facing replica is a proxy: the service's name, on its own IPv4 and IPv6.
    const edgeOnly = plan.hosts.find(
      (h) => h.replicas.length === 2 && h.replicas.some((id) => id.startsWith("edge-")) && h.replicas.some((id) => id.startsWith("files-")),
    )!;
    const server = serverOf(edgeOnly.id);
    expect(rdns.filter((r) => r.serverId === Number(server.id)).map((r) => [r.ipAddress, r.dnsPtr])).toEqual([
      [state(server).ipv4Address, "edge.fsn.park.example"],
      [state(server).ipv6Address, "edge.fsn.park.example"],
    ]);
    // The load balancer: the proxies' name on both its addresses.
    const lb = run.byType(T.lb)[0]!;
    expect(rdns.filter((r) => r.loadBalancerId === Number(lb.id)).map((r) => [r.ipAddress, r.dnsPtr])).toEqual([
      [state(lb).ipv4, "edge.fsn.park.example"],
      [state(lb).ipv6, "edge.fsn.park.example"],
    ]);
    // Servers with nothing published to the internet have none; every PTR names a name of the zone.
    const serving = new Set(plan.replicas.filter((r) => r.published.some((p) => p.audience === "internet")).map((r) => r.host));
    for (const host of plan.hosts.filter((h) => !serving.has(h.id)))
      expect(
        rdns.filter((r) => r.serverId === Number(serverOf(host.id).id)),
        host.id,
      ).toEqual([]);
    const zoneNames = new Set(plan.zones.flatMap((z) => z.records.filter((r) => r.type === "A").map((r) => r.name)));
    for (const r of rdns) expect(zoneNames.has(r.dnsPtr), r.dnsPtr).toBe(true);
    // Each serving server: one IPv4 and one IPv6 PTR; plus the balancer's two.
    expect(rdns).toHaveLength(serving.size * 2 + 2);
  });

  it("enables server backups on hosts running a service that declares backups", () => {
    const backed = new Set(plan.replicas.filter((r) => plan.services.find((s) => s.id === r.service)!.backup).map((r) => r.host));
    for (const host of plan.hosts) expect(serverOf(host.id).inputs.backups, host.id).toBe(backed.has(host.id));
  });

  it("builds and pushes each deployable role's image to the stack's registry, password as a secret", () => {
    const images = run.byType(T.image);
    expect(images.length).toBeGreaterThan(0);
    for (const img of images) {
      // The tag is the hash of the built bundle and Dockerfile, "unbuilt" before the bundle exists.
      const role = String(img.inputs.build.context).slice("images/".length);
      expect(img.inputs.imageName).toMatch(/^registry\.example\.com\/serverpark\/[a-z-]+:\d+\.\d+\.\d+-(?:[0-9a-f]{12}|unbuilt)$/);
      expect(img.inputs.imageName).toBe(`registry.example.com/serverpark/${role}:${roleImageSource(role)!.tag}`);
      expect(img.inputs.skipPush ?? false).toBe(false);
      expect(img.inputs.registry.server).toBe("registry.example.com");
      // Pulumi marks the whole registry block secret on the wire.
      expect(isSecretValue(img.rawInputs.registry)).toBe(true);
    }
  });

  it("runs every deployed replica from a unit the deployment copies, with the plan's addresses and the Docker target's hardening", () => {
    for (const host of plan.hosts) {
      const script = fileOn(host.id, "/usr/local/sbin/serverpark-network")!;
      for (const net of Object.keys(host.addresses)) expect(script).toContain(`alias_on ${host.addresses[net]}`);
      expect(fileOn(host.id, "/etc/systemd/system/serverpark-host-agent.service")).toContain(`--env SP_HOST_ID=${host.id}`);
      for (const id of host.replicas) {
        const r = plan.replicas.find((x) => x.id === id)!;
        const unit = fileOn(host.id, `/etc/systemd/system/serverpark-${id}.service`);
        if (!deployable(r.role)) {
          expect(unit, `${id} has no image yet`).toBeUndefined();
          continue;
        }
        expect(unit, id).toBeDefined();
        for (const flag of [
          "--user 1000:1000",
          "--cap-drop ALL",
          "--security-opt no-new-privileges:true",
          "--sysctl net.ipv4.ip_unprivileged_port_start=0",
          `--env SP_REPLICA=${id} `,
          `registry.example.com/serverpark/${r.role}:`,
        ]) {
          expect(unit).toContain(flag);
        }
        for (const e of plan.exposure.filter((x) => x.service === r.service)) {
          for (const net of e.reachableFrom) expect(unit).toContain(`--publish ${r.addresses[net]}:${e.number}:${e.number}/${e.protocol}`);
        }
        // On the public IPv4: every published port but those the balancer forwards to a proxy (below).
        for (const p of r.published.filter((x) => r.role !== "proxy" || ![80, 443].includes(x.port)))
          expect(unit).toContain(`--publish \${SP_PUBLIC_IPV4}:${p.port}:${p.port}/${p.protocol}`);
        const config = JSON.parse(fileOn(host.id, `/etc/serverpark/containers/${id}/files/etc_serverpark_config.json`)!);
        expect(config).toMatchObject({ replica: id, host: host.id, addresses: r.addresses });
      }
    }
  });

  it("starts each container after its files and its image, restarting it whenever any of them changes", () => {
    const starts = run.byType(T.command).filter((c) => c.name.endsWith("-start"));
    const containers = plan.hosts.length + plan.replicas.filter((r) => deployable(r.role)).length;
    expect(starts).toHaveLength(containers);
    for (const start of starts) {
      const id = /serverpark-(.+)\.service$/.exec(/systemctl restart (\S+)/.exec(start.inputs.create)![1]!)![1]!;
      // The server's id (a replacement gets everything again) and a digest of the unit and every file.
      expect(start.inputs.triggers, start.name).toHaveLength(2);
      expect(start.inputs.triggers[1]).toMatch(/^[0-9a-f]{64}$/);
      // Its own copies (every host's agent has the same paths, on its own server).
      const files = run
        .byType(T.copy)
        .filter((c) => c.name.startsWith(start.name.replace(/start$/, "")) && c.inputs.remotePath.startsWith(`/etc/serverpark/containers/${id}/files/`));
      // Before anything else, files the launch no longer lists are removed: exactly the copied ones stay.
      const find = (start.inputs.create as string).split(" && ")[0]!;
      expect(find).toMatch(new RegExp(`^find /etc/serverpark/containers/${id}/files -maxdepth 1 -type f( ! -name \\S+)* -delete$`));
      expect([...find.matchAll(/! -name (\S+)/g)].map((m) => m[1]).sort()).toEqual(files.map((f) => f.inputs.remotePath.split("/").pop()).sort());
      for (const copy of files) {
        const steps = (start.inputs.create as string).split(" && ");
        expect(
          steps.some((step) => /^chmod 04[04]{2} /.test(step) && step.endsWith(` ${copy.inputs.remotePath}`)),
          `${start.name} sets the mode of ${copy.inputs.remotePath}`,
        ).toBe(true);
      }
    }
  });

  it("delivers every secret file as a secret, and logs in to the registry with the password on stdin", () => {
    let secrets = 0;
    for (const copy of copies) {
      if (/\.key$|password/.test(copy.remotePath)) {
        expect(copy.secret, copy.remotePath).toBe(true);
        expect(copy.content).toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----|^\S+$/);
        secrets++;
      }
    }
    // The deployment's private key travels only inside the connections, as a secret.
    for (const r of [...run.byType(T.copy), ...run.byType(T.command)]) expect(isSecretValue(r.rawInputs.connection), r.name).toBe(true);
    expect(secrets).toBeGreaterThan(plan.hosts.length);
    const logins = run.byType(T.command).filter((c) => c.name.endsWith("-deploy-registry"));
    expect(logins).toHaveLength(plan.hosts.length);
    for (const login of logins) {
      expect(login.inputs.create).toBe("docker login --username deploy --password-stdin registry.example.com >/dev/null");
      expect(isSecretValue(login.rawInputs.stdin)).toBe(true);
      expect(login.inputs.stdin).toBe(REGISTRY_PASSWORD);
    }
  });

  it("publishes the file role's FTP control and passive ports on its private and management addresses, and gives it its networks' CIDRs", () => {
    const file = plan.replicas.find((r) => r.role === "file")!;
    const unit = fileOn(file.host, `/etc/systemd/system/serverpark-${file.id}.service`)!;
    const passive = Array.from({ length: FTP_PASSIVE_PORTS.to - FTP_PASSIVE_PORTS.from + 1 }, (_, i) => FTP_PASSIVE_PORTS.from + i);
    expect(Object.keys(file.addresses).sort()).toEqual(["mgmt", "private"]);
    for (const address of Object.values(file.addresses)) {
      for (const port of [21, ...passive]) expect(unit, `${address}:${port}`).toContain(`--publish ${address}:${port}:${port}/tcp`);
    }
    // Never on the public IPv4: FTP is for the datacenter's own networks.
    expect(unit).not.toMatch(/--publish \$\{SP_PUBLIC_IPV4\}:(21|300\d\d):/);
    // Behind Docker's NAT the server sees its bridge address; the CIDRs tell it which planned
    // address a client reached (images/file/src/passive.ts). The source address survives the
    // NAT only without Docker's userland proxy.
    const config = JSON.parse(fileOn(file.host, `/etc/serverpark/containers/${file.id}/files/etc_serverpark_config.json`)!);
    expect(config.networks).toEqual(
      Object.fromEntries(plan.networks.filter((n) => n.id in file.addresses).map((n) => [n.id, { cidr: n.cidr, exposure: n.exposure }])),
    );
    expect(JSON.parse(cloudInit(file.host).doc.write_files.find((f: any) => f.path === "/etc/docker/daemon.json").content)["userland-proxy"]).toBe(false);
  });

  it("gives every server the same bootstrap-only user data: Docker and the deployment's public key", () => {
    const first = cloudInit(plan.hosts[0]!.id).raw;
    for (const host of plan.hosts) expect(cloudInit(host.id).raw, host.id).toBe(first);
    expect(Buffer.byteLength(first)).toBeLessThanOrEqual(32 * 1024);
    const key = cloudInit(plan.hosts[0]!.id).doc.write_files.find((f: any) => f.path === "/root/.ssh/authorized_keys").content;
    const deployKey = run.byType("tls:index/privateKey:PrivateKey").find((k) => k.inputs.algorithm === "ED25519")!;
    expect(key).toMatch(/^ssh-ed25519 AAAA\S+ serverpark-deploy\n$/);
    expect(deployKey).toBeDefined();
    expect(first).not.toMatch(/PRIVATE KEY|password|docker run|10\.42\./);
  });

  it("never shows the registry password outside a secret", async () => {
    const plainInputs = (v: any): string[] => {
      if (isSecretValue(v)) return [];
      if (typeof v === "string") return [v];
      if (Array.isArray(v)) return v.flatMap(plainInputs);
      if (v && typeof v === "object") return Object.values(v).flatMap(plainInputs);
      return [];
    };
    for (const r of run.resources) {
      for (const s of plainInputs(r.rawInputs)) expect(s.includes(REGISTRY_PASSWORD), `${r.type} ${r.name}`).toBe(false);
    }
    const exported = JSON.stringify(await Promise.all([valueOf(run.exports.endpoints), valueOf(run.exports.addresses), valueOf(run.exports.domain)]));
    expect(exported).not.toContain(REGISTRY_PASSWORD);
    // The check can fail: the password really is in the inputs, inside secrets.
    expect(JSON.stringify(unwrapSecrets(run.byType(T.image)[0]!.rawInputs))).toContain(REGISTRY_PASSWORD);
  });

  it("labels every Hetzner resource with its datacenter, and servers with rack, feed and role", () => {
    for (const r of run.resources.filter((x) => x.type.startsWith("hcloud:") && "labels" in x.inputs)) {
      expect(r.inputs.labels, r.name).toMatchObject({ datacenter: "fsn", "managed-by": "serverpark" });
      for (const v of Object.values(r.inputs.labels as Record<string, string>)) expect(v).toMatch(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/);
    }
    for (const host of plan.hosts) {
      expect(serverOf(host.id).inputs.labels).toMatchObject({ kind: "host", host: host.id, rack: host.rack, feed: host.feeds.join("-") });
    }
    expect(serverOf("h4").inputs.labels.role).toBe(
      [...new Set(plan.hosts.find((h) => h.id === "h4")!.replicas.map((id) => plan.replicas.find((r) => r.id === id)!.role))].sort().join("."),
    );
  });

  // Every server gets the same document (see above): one validation covers them all.
  it.runIf(hasTool("cloud-init"))(
    "renders user data cloud-init's own validator accepts",
    () => {
      const result = cloudInitSchema(cloudInit("h2").raw);
      expect(result.ok, result.output).toBe(true);
    },
    60_000,
  );

  it.runIf(hasTool("shellcheck"))("runs only commands shellcheck finds nothing in over SSH", () => {
    const commands = run.byType(T.command);
    expect(commands.length).toBeGreaterThan(plan.hosts.length * 3);
    for (const c of commands) {
      for (const script of [c.inputs.create, c.inputs.delete].filter((x): x is string => typeof x === "string")) {
        expect(shellcheck(`#!/bin/sh\n${script}\n`), `${c.name}: ${script}`).toBe("");
      }
    }
  });

  it.runIf(hasTool("shellcheck"))("renders network scripts shellcheck finds nothing in", () => {
    for (const host of plan.hosts) expect(shellcheck(fileOn(host.id, "/usr/local/sbin/serverpark-network")!), host.id).toBe("");
  });
});
