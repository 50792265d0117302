/**
 * The egress rules a Hetzner server's user data installs (components/targets/hetzner/egress.ts),
 * run for real on this machine's engine and kernel, with real packets: a container on the
 * closed network reaches private addresses only, one on the egress network reaches the
 * internet too, neither reaches a link-local address (the metadata service's range), and a
 * client outside still reaches a container's published port.
 *
 * "Outside" is a network namespace behind a veth pair, with three addresses: 198.18.84.2 (the
 * internet: not private address space), 10.184.0.2 (a private network) and 169.254.84.254
 * (link-local). Not 169.254.169.254 itself: routing that address to the namespace would take
 * this machine's own metadata service away from it; the rule drops all of 169.254.0.0/16.
 * Networks, bridges and the chain carry test names and subnets (the script is the same
 * function with another configuration), and everything is removed afterwards.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { egressScript, type EgressConfig } from "../../components/targets/hetzner/egress";
import { docker, dockerTestsEnabled } from "../harness/docker-cli";
import { lockHostNetworking } from "./tools";

const IMAGE = "serverpark-test/hetzner-host-agent:dev";
const CONFIG: EgressConfig = {
  closed: { name: "sp-hz-closed", subnet: "172.30.84.0/24", bridge: "sphzclosed0" },
  open: { name: "sp-hz-egress", subnet: "172.30.85.0/24", bridge: "sphzegress0" },
  chain: "SP-HZ-EGRESS-TEST",
};
const NS = "sphz-out";
const OUTSIDE = { internet: "198.18.84.2", private: "10.184.0.2", linkLocal: "169.254.84.254" } as const;
const HOST_SIDE = ["198.18.84.1/24", "10.184.0.1/24", "169.254.84.1/24"];
const PORT = 18484;
const PUBLISHED = 18485;
const DNAT_PORT = 18486;
const CLIENT = { closed: "sp-hz-client-closed", open: "sp-hz-client-egress" } as const;
const SERVER = "sp-hz-published";
const enabled = dockerTestsEnabled();
let listener: ChildProcess | undefined;

const sh = (command: string) => execFileSync("sh", ["-c", command], { encoding: "utf8", timeout: 60_000 });
const quiet = (command: string) => spawnSync("sh", ["-c", command], { encoding: "utf8", timeout: 60_000 });

/** From inside a client container: does a TCP connection to `address` open within 3 s? */
async function reaches(container: string, address: string): Promise<"open" | "blocked"> {
  const script = `const s = require("net").connect(${PORT}, ${JSON.stringify(address)}); s.setTimeout(3000); s.on("connect", () => { console.log("open"); process.exit(0); }); s.on("timeout", () => { console.log("blocked"); process.exit(0); }); s.on("error", (e) => { console.log("error " + e.code); process.exit(0); });`;
  const { stdout } = await docker(["exec", container, "node", "-e", script], { timeoutMs: 20_000 });
  return stdout.trim() as "open" | "blocked";
}

/** From inside a client container: what the published server answers on the host's side of the outside link, or "blocked". */
async function published(container: string, port: number): Promise<string> {
  const script = `const s = require("net").connect(${port}, "198.18.84.1"); s.setTimeout(3000); s.on("data", (d) => { console.log(String(d).trim()); process.exit(0); }); s.on("timeout", () => { console.log("blocked"); process.exit(0); }); s.on("error", (e) => { console.log("error " + e.code); process.exit(0); });`;
  return (await docker(["exec", container, "node", "-e", script], { timeoutMs: 20_000 })).stdout.trim();
}

/** The DNAT Docker adds for a published port when its userland proxy is off, from the egress network only. */
const dnatRule = (server: string) =>
  `PREROUTING -i ${CONFIG.open.bridge} -d 198.18.84.1/32 -p tcp -m tcp --dport ${DNAT_PORT} -j DNAT --to-destination ${server}:${PUBLISHED}`;
let serverAddress = "";

async function cleanup(): Promise<void> {
  listener?.kill();
  await docker(["rm", "-f", CLIENT.closed, CLIENT.open, SERVER], { allowFailure: true });
  await docker(["network", "rm", CONFIG.closed.name, CONFIG.open.name], { allowFailure: true });
  if (serverAddress) quiet(`iptables -t nat -D ${dnatRule(serverAddress)}`);
  quiet(`iptables -D DOCKER-USER -j ${CONFIG.chain}; iptables -F ${CONFIG.chain}; iptables -X ${CONFIG.chain}`);
  quiet(`ip netns del ${NS}`);
}

/** The host-networking lock (tools.ts), held from before the first rule change to after the clean-up. */
let releaseHostNetworking = (): void => undefined;

beforeAll(async () => {
  if (!enabled) return;
  releaseHostNetworking = await lockHostNetworking();
  await cleanup();
  if (!existsSync("images/host-agent/dist/main.mjs")) execFileSync("npx", ["tsx", "images/build.ts", "host-agent"], { stdio: "inherit", timeout: 120_000 });
  await docker(["build", "-q", "-t", IMAGE, "images/host-agent"], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 180_000 });
  // The outside world: a namespace with the three addresses, a TCP listener on all of them.
  sh(
    [
      `ip netns add ${NS}`,
      `ip link add sphz-h type veth peer name sphz-n netns ${NS}`,
      ...HOST_SIDE.map((a) => `ip addr add ${a} dev sphz-h`),
      "ip link set sphz-h up",
      ...Object.values(OUTSIDE).map((a) => `ip netns exec ${NS} ip addr add ${a}/24 dev sphz-n`),
      `ip netns exec ${NS} ip link set sphz-n up`,
      `ip netns exec ${NS} ip link set lo up`,
      `ip netns exec ${NS} ip route add default via 198.18.84.1`,
    ].join(" && "),
  );
  listener = spawn(
    "ip",
    [
      "netns",
      "exec",
      NS,
      "python3",
      "-c",
      `import socket\ns=socket.socket()\ns.bind(("0.0.0.0",${PORT}))\ns.listen(64)\nwhile True:\n  c,_=s.accept(); c.close()`,
    ],
    {
      stdio: "ignore",
    },
  );
  // The rules, as the server's unit runs them (twice: it runs at every boot).
  sh(egressScript(CONFIG));
  sh(egressScript(CONFIG));
  const idle = ["--entrypoint", "node", IMAGE, "-e", "setInterval(() => {}, 1 << 30)"];
  await docker(["run", "-d", "--name", CLIENT.closed, "--network", CONFIG.closed.name, ...idle]);
  await docker(["run", "-d", "--name", CLIENT.open, "--network", CONFIG.open.name, ...idle]);
  // A server on the closed network, published on the host's side of the outside link.
  await docker([
    "run",
    "-d",
    "--name",
    SERVER,
    "--network",
    CONFIG.closed.name,
    "--publish",
    `198.18.84.1:${PUBLISHED}:${PUBLISHED}/tcp`,
    "--entrypoint",
    "node",
    IMAGE,
    "-e",
    `require("net").createServer((s) => s.end("hi\\n")).listen(${PUBLISHED})`,
  ]);
  serverAddress = (await docker(["inspect", "--format", `{{(index .NetworkSettings.Networks "${CONFIG.closed.name}").IPAddress}}`, SERVER])).stdout.trim();
  expect(serverAddress).toMatch(/^172\.30\.84\.\d+$/);
  sh(`iptables -t nat -I ${dnatRule(serverAddress)}`);
  await new Promise((r) => setTimeout(r, 1000));
}, 300_000);

afterAll(async () => {
  if (enabled) await cleanup();
  releaseHostNetworking();
});

describe.runIf(enabled)("the egress rules on a real engine", () => {
  it("writes the chain once, however often the unit runs, and jumps to it from DOCKER-USER once", () => {
    const rules = sh(`iptables -S ${CONFIG.chain}`).trim().split("\n");
    expect(rules).toHaveLength(
      1 +
        egressScript(CONFIG)
          .split("\n")
          .filter((l) => l.startsWith(`iptables -A ${CONFIG.chain}`)).length,
    );
    expect(
      sh("iptables -S DOCKER-USER")
        .split("\n")
        .filter((l) => l.includes(`-j ${CONFIG.chain}`)),
    ).toHaveLength(1);
  });

  it("lets a closed container reach private addresses only", async () => {
    expect(await reaches(CLIENT.closed, OUTSIDE.private)).toBe("open");
    expect(await reaches(CLIENT.closed, OUTSIDE.internet)).toBe("blocked");
    expect(await reaches(CLIENT.closed, OUTSIDE.linkLocal)).toBe("blocked");
  }, 60_000);

  it("lets an egress container reach the internet, never a link-local address", async () => {
    expect(await reaches(CLIENT.open, OUTSIDE.private)).toBe("open");
    expect(await reaches(CLIENT.open, OUTSIDE.internet)).toBe("open");
    expect(await reaches(CLIENT.open, OUTSIDE.linkLocal)).toBe("blocked");
  }, 60_000);

  it("still serves a closed container's published port to a client outside", () => {
    const r = quiet(
      `ip netns exec ${NS} python3 -c "import socket; s=socket.create_connection(('198.18.84.1', ${PUBLISHED}), 5); print(s.recv(16).decode().strip())"`,
    );
    expect(r.stdout.trim(), r.stderr).toBe("hi");
  });

  it("lets containers on either network reach each other's published ports on the server's addresses (a proxy and its back-end on one server)", async () => {
    // Through this engine's userland proxy (Docker's default)…
    expect(await published(CLIENT.closed, PUBLISHED)).toBe("hi");
    expect(await published(CLIENT.open, PUBLISHED)).toBe("hi");
    // …and as on a server, where the userland proxy is off and Docker DNATs across the bridges:
    // the rule Docker would add, for the egress network only (to another port, so the proxy is not in the way).
    expect(await published(CLIENT.open, DNAT_PORT)).toBe("hi");
    // Without our rules Docker's isolation between networks drops it.
    sh(`iptables -F ${CONFIG.chain}`);
    try {
      expect(await published(CLIENT.open, DNAT_PORT)).toBe("blocked");
    } finally {
      sh(egressScript(CONFIG));
    }
  }, 60_000);

  it("is what blocks: without the chain's rules the closed container reaches the internet", async () => {
    sh(`iptables -F ${CONFIG.chain}`);
    try {
      expect(await reaches(CLIENT.closed, OUTSIDE.internet)).toBe("open");
    } finally {
      sh(egressScript(CONFIG));
    }
    const after = await reaches(CLIENT.closed, OUTSIDE.internet);
    // On failure, show the rules the probe met.
    expect(after, after === "blocked" ? "" : sh(`iptables -S DOCKER-USER; iptables -S ${CONFIG.chain}`)).toBe("blocked");
  }, 60_000);
});
