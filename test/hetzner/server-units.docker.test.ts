/**
 * Every role's container as a Hetzner server runs it, on the real engine: the units, files and
 * start commands the program (stacks/Pulumi.hetzner.yaml with one hosting customer, under mocks)
 * copies to the servers over SSH, for one replica of every role (web, proxy, dns, mail, file, db,
 * game, noc) and the host agent of the NOC's server, started on this machine with networking like
 * a server's. The customer's site goes the whole way: uploaded over SFTP to the file server, pulled
 * by the web server from the file server's management port with its sites client certificate
 * (components/targets/hetzner/sites.ts), served by it.
 *
 * The networking. A Hetzner server has its public IPv4 on one interface and one interface per
 * private network, carrying the address DHCP gave it there and the planned alias addresses
 * (the deployment's network script). This machine's kernel has no `dummy` links, so each
 * interface is the host end of a veth pair whose other end sits in a network namespace,
 * `sphzu-lan`, standing in for the other machines: on each private network at offset 2 of its
 * CIDR (on the internet network that is the load balancer's address) and on the internet at
 * 203.0.113.2. The private interfaces carry exactly the addresses the copied network scripts of
 * the servers involved put on them (several servers' addresses on one machine: the plan never
 * gives two the same); the public one carries one TEST-NET-3 address per server, the
 * `${SP_PUBLIC_IPV4}` its units publish on (the metadata service's answer on a real server).
 * Connections from the namespace reach a container the way another server's do: through
 * Docker's DNAT for the published address, not through anything listening on this machine.
 * The containers' two networks and the DOCKER-USER rules are the rendered egress script's,
 * under test names and subnets.
 *
 * What is mapped, and only that: files under /etc/serverpark and /srv/serverpark live under a
 * temporary root, container names get a test prefix, the two networks' names are the test ones,
 * `--rm` becomes `--detach` (systemd holds the foreground on a server) and the images are built
 * here under the tags the units name (no registry). This engine runs with Docker's userland
 * proxy on, the servers' with it off: connections from the namespace are DNATed either way.
 * Everything is removed afterwards, also when a step fails (`SP_HETZNER_KEEP=1` leaves it all
 * running for a look; the next run removes it first).
 *
 * What it found: behind the balancer (PROXY protocol) the proxy never became healthy, its
 * readiness asking a server that never listens itself (images/runtime/httpServers.ts).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANAGEMENT_PORT } from "../../contracts/roles";
import { healthy } from "../../components/targets/hetzner/deploy";
import { egressScript, type EgressConfig } from "../../components/targets/hetzner/egress";
import { SITES } from "../../components/targets/hetzner/units";
import { docker, dockerTestsEnabled } from "../harness/docker-cli";
import { mockPassword } from "../support/mockCredentials";
import { runUnderMocks, type MockRun } from "../support/pulumiMocks";
import { copiesOf, execStart, type Copied } from "./deployed";
import { REGISTRY_PASSWORD, specWith, stackFile, withCustomer } from "./fixture";
import { lockHostNetworking } from "./tools";

const exec = promisify(execFile);
const ROLES = ["web", "proxy", "dns", "mail", "file", "db", "game", "noc"] as const;
const EGRESS: EgressConfig = {
  closed: { name: "sp-hzu-closed", subnet: "172.30.86.0/24", bridge: "sphzuclosed0" },
  open: { name: "sp-hzu-egress", subnet: "172.30.87.0/24", bridge: "sphzuegress0" },
  chain: "SP-HZU-EGRESS",
};
const NS = "sphzu-lan";
const WAN = { host: "sphzu-wan", peer: "sphzp-wan", cidr: "203.0.113.0/24", peerAddress: "203.0.113.2" };
const PREFIX = "sphzu-";
const enabled = dockerTestsEnabled();
const root = mkdtempSync(join(tmpdir(), "sp-hetzner-units-"));
const { plan } = specWith(withCustomer);
const datacenter = structuredClone(stackFile.config["serverpark:datacenter"]) as Record<string, any>;
withCustomer(datacenter);

/** One container as the deployment delivers it to its server. */
interface Delivered {
  readonly id: string;
  readonly host: string;
  /** The container's name on this engine. */
  readonly name: string;
  readonly unit: string;
  readonly files: Copied[];
  /** The deployment's start command (owner and modes of the files, then systemctl). */
  readonly start: string;
}

/** The replicas to run: the first of every role's first service, and the host agent of the NOC's server. */
const replicas = ROLES.map((role) => plan.replicas.filter((r) => r.role === role && r.part === undefined).sort((a, b) => a.id.localeCompare(b.id))[0]!);
const agentHost = replicas.find((r) => r.role === "noc")!.host;
const hosts = [...new Set([agentHost, ...replicas.map((r) => r.host)])].sort();
/** The public IPv4 of each server involved (what the metadata service would answer). */
const publicIpv4 = new Map(hosts.map((h, i) => [h, `203.0.113.${10 + i}`]));
const iface = (net: string) => ({ host: `sphzu-${net}`, peer: `sphzp-${net}` });
/** Offset 2 of a /24: the other machine on that network. */
const peerAddress = (cidr: string) => cidr.replace(/\.0\/24$/, ".2");

let delivered: Delivered[] = [];
const health = new Map<string, string>();

const sh = (command: string) => execFileSync("sh", ["-c", command], { encoding: "utf8", timeout: 60_000 });
const quiet = (command: string) => spawnSync("sh", ["-c", command], { encoding: "utf8", timeout: 60_000 });
/** A path on the server, under the temporary root. */
const local = (arg: string) => arg.replace(/^\/(etc|srv)\/serverpark\//, `${root}/$1/serverpark/`);

/** What the program delivers for `prefix` (a replica's `fsn-svc-<id>-`, an agent's `fsn-host-<h>-agent-`). */
function deliveredOf(run: MockRun<unknown>, copies: Copied[], prefix: string, id: string, host: string): Delivered {
  const unit = copies.find((c) => c.name === `${prefix}unit`);
  const start = run.byType("command:remote:Command").find((r) => r.name === `${prefix}start`);
  if (!unit || !start) throw new Error(`nothing delivered for ${prefix}`);
  return {
    id,
    host,
    name: `${PREFIX}${id}`,
    unit: unit.content,
    files: copies.filter((c) => c.name.startsWith(`${prefix}file-`)),
    start: start.inputs.create as string,
  };
}

/** The addresses each copied network script puts on each private network's interface. */
function plannedAddresses(copies: Copied[]): Map<string, string[]> {
  const byNet = new Map<string, string[]>();
  for (const h of hosts) {
    const script = copies.find((c) => c.name === `fsn-host-${h}-deploy-network-script`)!.content;
    for (const m of script.matchAll(/^alias_on ((?:\S+ )+)# (\S+)$/gm)) byNet.set(m[2]!, [...(byNet.get(m[2]!) ?? []), ...m[1]!.trim().split(" ")]);
  }
  return byNet;
}

function removeLinks(): void {
  for (const n of [...plan.networks.map((x) => iface(x.id).host), WAN.host]) quiet(`ip link del ${n}`);
  quiet(`ip netns del ${NS}`);
}

async function cleanup(): Promise<void> {
  await docker(["rm", "-f", ...[...replicas.map((r) => r.id), "host-agent"].map((id) => `${PREFIX}${id}`)], { allowFailure: true });
  quiet(`iptables -D DOCKER-USER -j ${EGRESS.chain}; iptables -F ${EGRESS.chain}; iptables -X ${EGRESS.chain}`);
  await docker(["network", "rm", EGRESS.closed.name, EGRESS.open.name], { allowFailure: true });
  removeLinks();
}

/** The server's networking: an interface per private network with its planned addresses, one with the public IPv4s. */
function serverNetworking(addresses: Map<string, string[]>): void {
  const lines = [`ip netns add ${NS}`, `ip netns exec ${NS} ip link set lo up`];
  const link = (host: string, peer: string, own: readonly string[], cidr: string, other: string) => [
    `ip link add ${host} type veth peer name ${peer} netns ${NS}`,
    ...own.map((a) => `ip addr add ${a}/32 dev ${host}`),
    `ip link set ${host} up`,
    `ip route add ${cidr} dev ${host}`,
    `ip netns exec ${NS} ip addr add ${other}/24 dev ${peer}`,
    `ip netns exec ${NS} ip link set ${peer} up`,
  ];
  for (const n of plan.networks) lines.push(...link(iface(n.id).host, iface(n.id).peer, addresses.get(n.id) ?? [], n.cidr, peerAddress(n.cidr)));
  lines.push(...link(WAN.host, WAN.peer, [...publicIpv4.values()], WAN.cidr, WAN.peerAddress));
  sh(lines.join(" && "));
}

/** The unit's ExecStartPre and ExecStart, mapped onto this machine, run; the container is detached. */
async function startUnit(d: Delivered): Promise<void> {
  const mapName = (a: string) => (a === `fsn-${d.id}` ? d.name : a);
  for (const m of d.unit.matchAll(/^ExecStartPre=(-?)(.*)$/gm)) {
    const [cmd, ...args] = m[2]!.split(" ").map(local).map(mapName);
    if (cmd === "/usr/bin/docker") await docker(args, { allowFailure: m[1] === "-" });
    else execFileSync(cmd!, args);
  }
  const argv = execStart(d.unit)
    .slice(1)
    .map((a) => a.replace("${SP_PUBLIC_IPV4}", publicIpv4.get(d.host)!))
    .map(local)
    .map(mapName)
    .map((a) => (a === "--rm" ? "--detach" : a === "sp-closed" ? EGRESS.closed.name : a === "sp-egress" ? EGRESS.open.name : a));
  await docker(argv, { timeoutMs: 120_000 });
}

/** The deployment's steps before the start, under the temporary root: directories, copies, owner and modes. */
function deliver(d: Delivered): void {
  const dir = `${root}/etc/serverpark/containers/${d.id}`;
  mkdirSync(`${dir}/files`, { recursive: true });
  chmodSync(dir, 0o700);
  chmodSync(`${dir}/files`, 0o700);
  const volume = /^RequiresMountsFor=(\S+)$/m.exec(d.unit)?.[1];
  if (volume) mkdirSync(local(volume), { recursive: true });
  for (const f of d.files) {
    mkdirSync(dirname(local(f.remotePath)), { recursive: true });
    writeFileSync(local(f.remotePath), f.content);
  }
  for (const step of d.start.split(" && ").filter((s) => /^(chown|chmod) /.test(s))) {
    const [cmd, ...args] = step.split(" ").map(local);
    execFileSync(cmd!, args);
  }
}

/** The unit's published addresses: `address:port/protocol`, the public IPv4 resolved. */
function published(d: Delivered): { address: string; port: number; protocol: string }[] {
  return [...d.unit.matchAll(/--publish (\S+):(\d+):\d+\/(tcp|udp)/g)].map((m) => ({
    address: m[1] === "${SP_PUBLIC_IPV4}" ? publicIpv4.get(d.host)! : m[1]!,
    port: Number(m[2]),
    protocol: m[3]!,
  }));
}

/** From the other machines' namespace: does a TCP connection to address:port open? */
async function connects(address: string, port: number): Promise<string> {
  const r = await exec("ip", ["netns", "exec", NS, "timeout", "5", "bash", "-c", `exec 3<>/dev/tcp/${address}/${port}`]).then(
    () => "open",
    (e: { stderr?: string; code?: number }) => `closed (${e.code}: ${String(e.stderr ?? "").trim()})`,
  );
  return r;
}

/** The NOC's management client credentials and the datacenter CA, as copied to the NOC's server. */
const nocFile = (suffix: string) => local(delivered.find((d) => d.id.startsWith("noc-"))!.files.find((f) => f.remotePath.endsWith(suffix))!.remotePath);

/** curl from the other machines' namespace: the status code, or how it failed. */
function curlStatus(...args: string[]): Promise<string> {
  return exec("ip", ["netns", "exec", NS, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", ...args]).then(
    (r) => r.stdout,
    (e: { code?: number }) => `curl exit ${e.code}`,
  );
}

function healthz(address: string, withCertificate: boolean): Promise<string> {
  const client = withCertificate ? ["--cert", nocFile("management-client_tls.crt"), "--key", nocFile("management-client_tls.key")] : [];
  return curlStatus("--cacert", nocFile("tls_ca.crt"), ...client, `https://${address}:${MANAGEMENT_PORT}/healthz`);
}

/** The host-networking lock (tools.ts), held from before the first rule change to after the clean-up. */
let releaseHostNetworking = (): void => undefined;

beforeAll(async () => {
  if (!enabled) return;
  releaseHostNetworking = await lockHostNetworking();
  await cleanup();
  // The bundles first: the images' tags (the units name them) hash the built bundles.
  if (ROLES.some((r) => !existsSync(`images/${r}/dist/main.mjs`)) || !existsSync("images/host-agent/dist/main.mjs"))
    execFileSync("npx", ["tsx", "images/build.ts"], { stdio: "inherit", timeout: 300_000 });
  execFileSync("bash", ["scripts/make-base-image.sh"], { stdio: "inherit", timeout: 300_000 });
  const run = await runUnderMocks(() => import("../../stacks/index.js"), {
    stack: "hetzner",
    config: { ...stackFile.config, "serverpark:datacenter": datacenter, "serverpark:registryPassword": REGISTRY_PASSWORD },
  });
  const copies = await copiesOf(run);
  delivered = [
    ...replicas.map((r) => deliveredOf(run, copies, `fsn-svc-${r.id}-`, r.id, r.host)),
    deliveredOf(run, copies, `fsn-host-${agentHost}-agent-`, "host-agent", agentHost),
  ];
  // Every image a unit names, built once under that name.
  const wanted = new Set(delivered.map((d) => execStart(d.unit).at(-1)!));
  const images = run.byType("docker:index/image:Image").filter((i) => wanted.has(i.inputs.imageName as string));
  expect(images).toHaveLength(wanted.size);
  for (const i of images) {
    const b = i.inputs.build as { context: string; dockerfile: string; args: Record<string, string> };
    const args = Object.entries(b.args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
    await docker(["build", "-q", "-t", i.inputs.imageName as string, "-f", b.dockerfile, ...args, b.context], {
      env: { DOCKER_BUILDKIT: "0" },
      timeoutMs: 300_000,
    });
  }
  serverNetworking(plannedAddresses(copies));
  sh(egressScript(EGRESS));
  for (const d of delivered) deliver(d);
  await Promise.all(delivered.map(startUnit));
  // The deployment's own wait (deploy.ts), all containers at once; at most 5 minutes each.
  await Promise.all(
    delivered.map(async (d) => {
      const status = await exec("sh", ["-c", healthy(d.name, 60)], { timeout: 400_000 }).then(
        () => "healthy",
        (e: { stderr?: string }) => String(e.stderr ?? e).trim(),
      );
      if (status !== "healthy") {
        const logs = await docker(["logs", "--tail", "30", d.name], { allowFailure: true });
        health.set(d.name, `${status}\n${logs.stdout}${logs.stderr}`);
      } else health.set(d.name, status);
    }),
  );
}, 900_000);

afterAll(async () => {
  // SP_HETZNER_KEEP=1 leaves containers, networks and links for a look (the next run removes them first).
  if (process.env.SP_HETZNER_KEEP !== "1") {
    if (enabled) await cleanup();
    rmSync(root, { recursive: true, force: true });
  }
  releaseHostNetworking();
});

describe.runIf(enabled)("every role's rendered unit on a real engine, networked like a Hetzner server", () => {
  it("runs one replica of every role and the host agent", () => {
    expect(new Set(replicas.map((r) => r.role))).toEqual(new Set(ROLES));
    expect(delivered.map((d) => d.id)).toContain("host-agent");
  });

  it("brings every container to healthy by its own health check", () => {
    expect(Object.fromEntries(health)).toEqual(Object.fromEntries(delivered.map((d) => [d.name, "healthy"])));
  });

  it("serves /healthz on each management address to the NOC's client certificate only, from another machine on the management network", async () => {
    const mgmt = plan.networks.find((n) => n.exposure === "management")!;
    for (const d of delivered) {
      const addresses = published(d).filter((p) => p.port === MANAGEMENT_PORT);
      // The management port on exactly one address, the planned one on the management network.
      expect(
        addresses.map((p) => p.address.replace(/\.\d+$/, ".0/24")),
        d.id,
      ).toEqual([mgmt.cidr]);
      expect(await healthz(addresses[0]!.address, true), d.id).toBe("200");
      expect(await healthz(addresses[0]!.address, false), d.id).not.toBe("200");
    }
  });

  it("answers on every published port, at the planned addresses and the public IPv4, from the other machines", async () => {
    const failures: string[] = [];
    for (const d of delivered) {
      for (const p of published(d)) {
        if (p.protocol === "tcp") {
          const r = await connects(p.address, p.port);
          if (r !== "open") failures.push(`${d.id} ${p.address}:${p.port}/tcp ${r}`);
        } else {
          const dig = spawnSync(
            "ip",
            ["netns", "exec", NS, "dig", "+short", "+time=2", "+tries=2", `@${p.address}`, "-p", String(p.port), plan.domain, "SOA"],
            {
              encoding: "utf8",
            },
          );
          if (!/\S/.test(dig.stdout)) failures.push(`${d.id} ${p.address}:${p.port}/udp no answer (${dig.stderr.trim()})`);
        }
      }
    }
    expect(failures).toEqual([]);
    // One connection after another: with the customer's file server (SFTP, FTP, ten passive ports) that took 27-30 s under load.
  }, 120_000);

  it("carries a request from the balancer's address, with its PROXY header, through the proxy to a web back-end on the other container network", async () => {
    const edge = replicas.find((r) => r.role === "proxy")!;
    const web = replicas.find((r) => r.role === "web")!;
    const name = `${web.service}.${plan.domain}`;
    // The namespace's address on the internet network is the balancer's (offset 2), which the proxy trusts.
    expect(peerAddress(plan.networks.find((n) => n.exposure === "internet")!.cidr)).toBe("10.42.0.2");
    const direct = await curlStatus("-H", `Host: ${name}`, `http://${web.addresses.private}:8080/`);
    expect(direct).toMatch(/^[2-4]\d\d$/);
    const url = [`--resolve`, `${name}:443:${edge.addresses.public}`, "--cacert", nocFile("tls_ca.crt"), `https://${name}/`];
    expect(await curlStatus("--haproxy-protocol", ...url)).toBe(direct);
    // From the balancer's address a connection without the header is refused.
    expect(await curlStatus(...url)).toMatch(/^curl exit/);
    // Around the balancer: the proxy's server does not serve 443 on its public IPv4.
    expect(await connects(publicIpv4.get(edge.host)!, 443)).toMatch(/^closed/);
  });

  it("serves a customer's site uploaded to the file server from the web server, which pulled it over mutual TLS", async () => {
    const files = delivered.find((d) => d.id === replicas.find((r) => r.role === "file")!.id)!;
    const web = replicas.find((r) => r.role === "web")!;
    const customer = plan.customers![0]!;
    expect([customer.site.fileService, customer.site.webService]).toEqual(["files", web.service]);
    // As the customer: SFTP to the file server's public IPv4 (curl's SFTP, from the other machines).
    const sftp = published(files).find((p) => p.port === 22 && p.address === publicIpv4.get(files.host));
    expect(sftp, "SFTP on the file server's public IPv4").toBeDefined();
    const page = `<h1>${customer.id} ${Date.now()}</h1>\n`;
    writeFileSync(join(root, "index.html"), page);
    const password = mockPassword(`${plan.datacenter}-svc-${customer.site.fileService}-user-${customer.site.account}`);
    const upload = [`--user`, `${customer.site.account}:${password}`, "--insecure", "--ftp-create-dirs", "-T", join(root, "index.html")];
    await exec("ip", ["netns", "exec", NS, "curl", "-sS", "--max-time", "30", ...upload, `sftp://${sftp!.address}/${customer.site.folder}/index.html`]);
    // The web server serves it once its pull fetched it: no volume is shared, the copy is its own.
    const name = customer.site.names[0]!;
    let body = "";
    for (let i = 0; i < 60 && body !== page; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      body = await exec("ip", ["netns", "exec", NS, "curl", "-s", "--max-time", "5", "-H", `Host: ${name}`, `http://${web.addresses.private}:8080/`]).then(
        (r) => r.stdout,
        () => "",
      );
    }
    expect(body, `${name} from ${web.id}`).toBe(page);
    expect(readFileSync(local(`${SITES}/${web.id}/${customer.site.account}/current/index.html`), "utf8")).toBe(page);
    // The file server hands the sites to a sites client certificate only: for the NOC's there is no such path (404), without one no handshake.
    const manifest = `https://${published(files).find((p) => p.port === MANAGEMENT_PORT)!.address}:${MANAGEMENT_PORT}/sites/`;
    const noc = ["--cert", nocFile("management-client_tls.crt"), "--key", nocFile("management-client_tls.key")];
    expect(await curlStatus("--cacert", nocFile("tls_ca.crt"), ...noc, manifest)).toBe("404");
    expect(await curlStatus("--cacert", nocFile("tls_ca.crt"), manifest)).toMatch(/^curl exit/);
  });

  it("publishes no management port on the public IPv4", async () => {
    for (const d of delivered) expect(await connects(publicIpv4.get(d.host)!, MANAGEMENT_PORT), d.id).toMatch(/^closed/);
  });
});
