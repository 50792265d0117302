/**
 * The management plane under the threat model "any one container may be compromised": from
 * inside the internet-facing replicas (proxy, web, game) no management route of any other
 * replica or host agent answers — not without a certificate, not with the replica's own
 * service certificate — while the NOC reads (and may not change) and the operator, with the
 * stack's operator certificate, reads and changes (contracts/management.ts).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { MANAGEMENT_CLIENT_TLS_PATHS, TLS_PATHS } from "../../contracts/paths";
import { MANAGEMENT_PORT } from "../../contracts/roles";
import { describeE2e, e2eDatacenter, type E2eContainer } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

/** Every management route some role serves, read and change alike. */
const ROUTES: readonly [string, string][] = [
  ["GET", "/healthz"],
  ["GET", "/metrics"],
  ["GET", "/backups"],
  ["POST", "/backups"],
  ["POST", "/restore"],
  ["POST", "/backups/restore"],
  ["GET", "/versions"],
  ["POST", "/versions/restore"],
  ["GET", "/queue"],
  ["POST", "/reload"],
  ["GET", "/power"],
  ["POST", "/power"],
  ["GET", "/identity"],
];

/**
 * Runs inside a container with its own node: asks each target each route, with the given
 * client certificate files (or none), and prints one line per attempt: `address method path
 * → status` or `→ error <code>`. Bodies are `{}`: nothing is changed unless a route accepts it.
 */
const SCRIPT = `"use strict";
const https = require("node:https"), fs = require("node:fs");
const [targets, routes, port, cert, key] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5]];
const tls = cert ? { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } : {};
const ask = (host, [method, path]) => new Promise((resolve) => {
  const req = https.request({ host, port, method, path, rejectUnauthorized: false, timeout: 5000, ...tls, headers: { "content-type": "application/json" } }, (res) => { res.resume(); resolve(res.statusCode); });
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", (e) => resolve("error " + (e.code || e.message)));
  req.end(method === "POST" ? "{}" : undefined);
});
(async () => { for (const t of targets) for (const r of routes) console.log(t + " " + r[0] + " " + r[1] + " -> " + (await ask(t, r))); })();`;

async function attempts(
  from: E2eContainer,
  targets: readonly string[],
  routes: readonly [string, string][],
  cert?: { cert: string; key: string },
): Promise<string[]> {
  const args = [
    "exec",
    from.name,
    "node",
    "-e",
    SCRIPT,
    JSON.stringify(targets),
    JSON.stringify(routes),
    String(MANAGEMENT_PORT),
    cert?.cert ?? "",
    cert?.key ?? "",
  ];
  const { stdout } = await run("docker", args, { timeout: 120_000, maxBuffer: 8 << 20 });
  return stdout.trim().split("\n");
}

/** Every other replica's and host agent's management address. */
function targetsFor(self: E2eContainer): string[] {
  return dc.containers.filter((c) => c.name !== self.name && c.addresses.mgmt).map((c) => c.addresses.mgmt!);
}

describeE2e("management plane on Docker", () => {
  it("refuses every management route to the proxy, web and game replicas, with or without their own certificate", async () => {
    const attackers = dc.containers.filter((c) => c.kind === "replica" && ["proxy", "web", "game"].includes(c.role));
    expect(attackers.length).toBeGreaterThanOrEqual(3);
    for (const attacker of attackers) {
      const targets = targetsFor(attacker);
      expect(targets.length, `${attacker.name} has management targets`).toBeGreaterThan(5);
      const bare = await attempts(attacker, targets, ROUTES);
      expect(bare).toHaveLength(targets.length * ROUTES.length);
      // No certificate: the TLS handshake itself fails (or the address is unreachable), never an HTTP answer.
      expect(
        bare.filter((l) => !/-> error /.test(l)),
        `${attacker.name} without a certificate`,
      ).toEqual([]);
      const own = await attempts(attacker, targets, ROUTES, { cert: TLS_PATHS.cert, key: TLS_PATHS.key });
      // Its own service certificate is from the datacenter CA but names no management caller: 403, or no way there.
      expect(
        own.filter((l) => !/-> (403|error )/.test(l)),
        `${attacker.name} with its own certificate`,
      ).toEqual([]);
      expect(
        own.some((l) => / -> 403$/.test(l)),
        `${attacker.name} reached some management port (so the 403s are real answers)`,
      ).toBe(true);
    }
  });

  it("lets the NOC read every management port but change none", async () => {
    const noc = dc.containers.find((c) => c.role === "noc" && c.kind === "replica")!;
    const client = { cert: MANAGEMENT_CLIENT_TLS_PATHS.cert, key: MANAGEMENT_CLIENT_TLS_PATHS.key };
    const targets = targetsFor(noc);
    const reads = await attempts(noc, targets, [["GET", "/healthz"]], client);
    expect(
      reads.filter((l) => !/ -> 200$/.test(l)),
      "the NOC reads every /healthz",
    ).toEqual([]);
    const changes = await attempts(
      noc,
      targets,
      [
        ["POST", "/backups"],
        ["POST", "/power"],
      ],
      client,
    );
    expect(
      changes.filter((l) => !/ -> 403$/.test(l)),
      "the NOC changes nothing",
    ).toEqual([]);
  });

  it("lets the operator, with the stack's operator certificate, read and change", async () => {
    const op = dc.operator!;
    const agent = dc.host("h1");
    const curl = async (...args: string[]) =>
      (await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--cacert", op.ca, "--cert", op.cert, "--key", op.key, ...args]))
        .stdout;
    for (const c of dc.containers.filter((x) => x.addresses.mgmt)) {
      expect(await curl(`https://${c.addresses.mgmt}:${MANAGEMENT_PORT}/metrics`), `${c.name} /metrics`).toBe("200");
    }
    // A change the operator may make and undo: h1's power, read back from the agent.
    const power = (state: boolean) =>
      curl(
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        JSON.stringify({ feeds: { A: state } }),
        `https://${agent.addresses.mgmt}:${MANAGEMENT_PORT}/power`,
      );
    expect(await power(false)).toBe("200");
    expect(await power(true)).toBe("200");
  });
});
