/**
 * Customers' certificate issuing (`certificates:` and `customers[].certificates` in the spec):
 * every refusal with its config path, and what the plan, the proxy's view and its launch make of
 * a stack where one customer's certificate comes from an ACME CA.
 */
import "tsx/cjs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureIo } from "../support/cliIo";
import { stackVariant } from "../support/stackVariant";
import { customerPlan, customerProblems, withCustomers } from "../support/customers";
import { nocView } from "../../components/model/nocView";
import { proxyView } from "../../components/model/proxyView";
import { replicaLaunch } from "../../components/model/launch";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { replicaContainer } from "../../components/targets/hetzner/containers";
import { renderUnit, STATE } from "../../components/targets/hetzner/units";
import { PROXY_ACME_PATH } from "../../contracts/paths";
import { replicaRuntimeConfigSchema } from "../../contracts/runtimeConfig";

// Loaded through the same require hook as the commands (as in customers.test.ts).
const { main } = createRequire(join(process.cwd(), "test/unit/certificates.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");
const ACME = { directoryUrl: "https://acme.example.test/dir", email: "hostmaster@fra1.park.test" };

const problems = customerProblems;

describe("certificates in the spec", () => {
  it("accepts no `certificates` (the datacenter CA), and acme for the stack or for one customer", () => {
    expect(problems(() => {})).toEqual([]);
    expect(problems((s) => (s.certificates = { issuer: "acme", acme: ACME }))).toEqual([]);
    expect(
      problems((s) => {
        s.certificates = { acme: ACME };
        s.customers[1].certificates = { issuer: "acme" };
      }),
    ).toEqual([]);
  });

  it.each([
    [
      "acme for the stack without its settings",
      (s: any) => (s.certificates = { issuer: "acme" }),
      "certificates.issuer: acme issues the certificates of customers acme, globex, but certificates.acme is not set: give its directoryUrl and email",
    ],
    [
      "acme for one customer without its settings",
      (s: any) => (s.customers[1].certificates = { issuer: "acme" }),
      "customers[1].certificates.issuer: acme issues the certificates of customer globex, but certificates.acme is not set: give its directoryUrl and email",
    ],
    [
      "acme without a directory URL",
      (s: any) => (s.certificates = { issuer: "acme", acme: { email: ACME.email } }),
      "certificates.acme.directoryUrl: is required: acme issues the certificates of customers acme, globex. Give the CA's ACME directory",
    ],
    [
      "a directory over plain http",
      (s: any) => (s.certificates = { issuer: "acme", acme: { ...ACME, directoryUrl: "http://acme.example.test/dir" } }),
      "certificates.acme.directoryUrl: expected an https URL of an ACME directory",
    ],
    [
      "a CA bundle that does not parse",
      (s: any) => (s.certificates = { issuer: "acme", acme: { ...ACME, caBundle: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" } }),
      "certificates.acme.caBundle: certificate 1 does not parse",
    ],
    ["an unknown issuer", (s: any) => (s.customers[0].certificates = { issuer: "self-signed" }), "customers[0].certificates.issuer:"],
    [
      "acme with no proxy on the internet",
      (s: any) => {
        s.certificates = { issuer: "acme", acme: ACME };
        s.services.find((x: any) => x.role === "proxy").networks = ["private"];
      },
      'services[1].networks: acme validates customers acme, globex\'s names by connecting to the proxy on port 80 from the internet; proxy service "edge" has no internet network',
    ],
  ])("refuses %s", (_what, mutate, expected) => {
    const found = problems(mutate);
    expect(
      found.some((p) => p.startsWith(expected)),
      found.join("\n"),
    ).toBe(true);
  });
});

describe("an acme customer in the plan, the proxy's view and its launch", () => {
  const spec = withCustomers();
  spec.certificates = { acme: ACME };
  spec.customers[1].certificates = { issuer: "acme" };
  const { plan } = customerPlan(spec);
  const edge = plan.services.find((s) => s.id === "edge")!;
  const replica = plan.replicas.find((r) => r.id === edge.replicas[0])!;

  it("orders only that customer's names, and keeps every customer's names on the datacenter CA's certificate", () => {
    const view = proxyView(plan, edge);
    // Every replica of the proxy at its port 80 on its internet network: the CA's request may reach any of them.
    const peers = edge.replicas.map((id) => ({ host: plan.replicas.find((r) => r.id === id)!.addresses.public!, port: 80 }));
    expect(peers).toHaveLength(2);
    expect(view.acme).toEqual({
      ...ACME,
      renewAfter: 0.67,
      maxOrdersInFlight: 2,
      peers,
      domainSets: [{ id: "globex", names: ["globex.test", "www.globex.test"] }],
    });
    expect(view.certificateNames).toEqual(expect.arrayContaining(["acme.test", "www.acme.test", "globex.test", "www.globex.test"]));
  });

  it("hands the proxy the ACME view (parsed by the contract) and a volume for its state; no other role gets either", () => {
    const config = replicaRuntimeConfigSchema.parse(replicaRuntimeConfig(plan, replica, edge));
    expect(config.acme?.domainSets.map((s) => s.id)).toEqual(["globex"]);
    const launch = replicaLaunch(plan, replica, edge, [], []);
    expect(launch.volumes).toContainEqual({ kind: "state", containerPath: PROXY_ACME_PATH, keeper: replica.host });
    for (const service of plan.services.filter((s) => s.role !== "proxy")) {
      const r = plan.replicas.find((x) => x.id === service.replicas[0])!;
      expect(replicaRuntimeConfig(plan, r, service).acme).toBeUndefined();
      expect(replicaLaunch(plan, r, service, [], []).volumes.some((v) => v.containerPath === PROXY_ACME_PATH)).toBe(false);
    }
  });

  it("on Hetzner keeps the state in a directory on the server's disk (no paid volume for a few KB), mounted on every start", () => {
    const container = replicaContainer(plan, replicaLaunch(plan, replica, edge, [], []), "serverpark-proxy", false);
    expect(container.state).toEqual({ containerPath: PROXY_ACME_PATH });
    expect(container.volume).toBeUndefined();
    const unit = renderUnit(plan.datacenter, plan.domain, replica.host, container);
    expect(unit).toContain(`--volume ${STATE}/${replica.id}:${PROXY_ACME_PATH}`);
    expect(unit).toContain(`ExecStartPre=/bin/chown 1000:1000 ${STATE}/${replica.id}`);
  });

  it("tells the NOC which customer sites have an ACME certificate (it trusts the system's roots for those)", () => {
    const noc = plan.services.find((s) => s.role === "noc")!;
    const nocReplica = plan.replicas.find((r) => r.id === noc.replicas[0])!;
    const sites = nocView(plan, nocReplica, noc).targets.filter((t) => t.site !== undefined);
    expect(new Set(sites.filter((t) => t.acme).map((t) => t.site))).toEqual(new Set(["globex.test"]));
    expect(new Set(sites.filter((t) => !t.acme).map((t) => t.site))).toEqual(new Set(["acme.test"]));
  });

  it("without acme the proxy gets neither (today's datacenter CA only)", () => {
    const plain = customerPlan().plan;
    const proxy = plain.services.find((s) => s.id === "edge")!;
    const r = plain.replicas.find((x) => x.id === proxy.replicas[0])!;
    expect(plain.acme).toBeUndefined();
    expect(proxyView(plain, proxy).acme).toBeUndefined();
    expect(replicaLaunch(plain, r, proxy, [], []).volumes.some((v) => v.containerPath === PROXY_ACME_PATH)).toBe(false);
  });
});

describe("serverpark plan and validate with acme", () => {
  const stack = (acme: string) =>
    stackVariant("local", [
      ["\n    customers:\n", `\n    certificates: { acme: { ${acme} } }\n    customers:\n`],
      [/(- id: globex\n)/, "$1        certificates: { issuer: acme }\n"],
    ]);

  it("plan marks the customers whose certificate comes from the ACME CA", async () => {
    const c = captureIo();
    expect(await main(["plan", stack('email: hostmaster@fra1.park.test, directoryUrl: "https://acme.example.test/dir"')], c), c.stderr).toBe(0);
    const row = (id: string) => c.stdout.split("\n").find((l) => l.startsWith(`${id} `)) ?? "";
    expect(row("globex")).toMatch(/https:\/\/www\.globex\.test\/ \(ACME certificate\)$/);
    expect(row("acme")).not.toMatch(/ACME certificate/);
  });

  it("validate names the line and config path of a missing directory URL", async () => {
    const c = captureIo();
    expect(await main(["validate", stack("email: hostmaster@fra1.park.test")], c)).toBe(1);
    expect(c.stdout + c.stderr).toMatch(
      /Pulumi\.local\.yaml:\d+:\d+: serverpark:datacenter\.certificates\.acme\.directoryUrl: is required: acme issues the certificates of customer globex/,
    );
  });
});
