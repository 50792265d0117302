/**
 * Hosting customers (`customers:` in the spec): every refusal with its config path, and what
 * the plan makes of two valid customers (quota, site, DNS zones for their domains).
 */
import "tsx/cjs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureIo } from "../support/cliIo";
import { stackVariant } from "../support/stackVariant";
import { loadStackFile } from "../../components/spec/load";
import { customerProblems, withCustomers } from "../support/customers";
import { validateSpec } from "../../components/spec/validate";
import { planDatacenter } from "../../components/plan";
import { allocateHostPorts } from "../../components/targets/docker/hostPorts";
import { nocView } from "../../components/model/nocView";
import { mailViewOf } from "../../components/model/mailView";

const local = loadStackFile("local").config["serverpark:datacenter"] as Record<string, any>;
// Loaded through the same require hook as the commands, so error classes are the same instances.
const { main } = createRequire(join(process.cwd(), "test/unit/customers.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");
const problems = customerProblems;

describe("customers in the spec", () => {
  it("accepts two customers on a hosting plan", () => {
    expect(problems(() => {})).toEqual([]);
  });

  it.each([
    ["unknown plan", (s: any) => (s.customers[0].plan = "web-xxl"), 'customers[0].plan: unknown plan "web-xxl"; expected one of: web-s, web-xl'],
    [
      "a plan not sold for hosting",
      (s: any) => (s.customers[0].plan = "vps-s"),
      'customers[0].plan: plan "vps-s" is not sold for hosting (it has no `hosting` limits)',
    ],
    ["duplicate customer id", (s: any) => (s.customers[1].id = "acme"), 'customers[1].id: duplicate customer id "acme" (first declared at customers[0])'],
    [
      "duplicate domain",
      (s: any) => (s.customers[1].domains[0].name = "acme.test"),
      "customers[1].domains[0].name: duplicate domain acme.test (first declared at customers[0].domains[0])",
    ],
    [
      "a domain inside another customer's",
      (s: any) => (s.customers[1].domains[0].name = "shop.acme.test"),
      "customers[1].domains[0].name: shop.acme.test overlaps acme.test (customers[0].domains[0]); a domain belongs to one customer",
    ],
    [
      "a domain around another customer's",
      (s: any) => s.customers[0].domains.push({ name: "shop.globex.test" }),
      "customers[1].domains[0].name: globex.test overlaps shop.globex.test (customers[0].domains[1]); a domain belongs to one customer",
    ],
    [
      "the datacenter's own domain",
      (s: any) => (s.customers[0].domains[0].name = "fra1.park.test"),
      "customers[0].domains[0].name: fra1.park.test is the datacenter's own domain fra1.park.test",
    ],
    [
      "a name inside the datacenter's domain",
      (s: any) => (s.customers[0].domains[0].name = "shop.fra1.park.test"),
      "customers[0].domains[0].name: shop.fra1.park.test overlaps the datacenter's own domain fra1.park.test",
    ],
    [
      "a parent of the datacenter's domain",
      (s: any) => (s.customers[0].domains[0].name = "park.test"),
      "customers[0].domains[0].name: park.test overlaps the datacenter's own domain fra1.park.test",
    ],
    [
      "more customers than the plan's capacity",
      (s: any) => s.customers.push({ id: "initech", plan: "web-s", domains: [{ name: "initech.test" }], fileAccounts: [{ name: "initech" }] }),
      'customers[2].plan: plan "web-s" may be sold to 2 customers; this is customer 3',
    ],
    [
      "more quota than the file service's disk",
      (s: any) =>
        s.customers.push(
          { id: "big", plan: "web-xl", domains: [{ name: "big.test" }], fileAccounts: [{ name: "big" }] },
          { id: "bigger", plan: "web-xl", domains: [{ name: "bigger.test" }], fileAccounts: [{ name: "bigger" }] },
        ),
      'customers[3].plan: the customers\' quotas up to here add up to 60200 MiB, more than the 40960 MiB disk of file service "files" (plan "vps-m")',
    ],
    [
      "more domains than the plan allows",
      (s: any) => s.customers[1].domains.push({ name: "b.test" }, { name: "c.test" }),
      'customers[1].domains[2]: plan "web-s" allows 2 domains per customer',
    ],
    [
      "more file accounts than the plan allows",
      (s: any) => s.customers[1].fileAccounts.push({ name: "g2" }, { name: "g3" }),
      'customers[1].fileAccounts[2]: plan "web-s" allows 2 file accounts per customer',
    ],
    [
      "more mailboxes than the plan allows",
      (s: any) => s.customers[0].mailboxes.push({ address: "x@acme.test" }),
      'customers[0].mailboxes[2]: plan "web-s" allows 2 mailboxes per customer',
    ],
    [
      "a mailbox over the plan's quota",
      (s: any) => (s.customers[0].mailboxes[1].quotaMb = 300),
      'customers[0].mailboxes[1].quotaMb: is 300 MiB, more than the 256 MiB plan "web-s" allows',
    ],
    [
      "a mailbox on another domain",
      (s: any) => (s.customers[0].mailboxes[0].address = "info@globex.test"),
      "customers[0].mailboxes[0].address: globex.test is not one of the customer's domains (acme.test)",
    ],
    [
      "a duplicate mailbox",
      (s: any) => (s.customers[0].mailboxes[1].address = "info@acme.test"),
      "customers[0].mailboxes[1].address: duplicate mailbox info@acme.test (first declared at customers[0].mailboxes[0])",
    ],
    [
      "an account name taken by another customer",
      (s: any) => (s.customers[1].fileAccounts[0].name = "acme"),
      'customers[1].fileAccounts[0].name: "acme" is already an account of customer "acme" (customers[0].fileAccounts[0])',
    ],
    [
      "an account name taken by the file service",
      (s: any) => (s.customers[1].fileAccounts[0].name = "files"),
      'customers[1].fileAccounts[0].name: "files" is already a user of file service "files" (services[4].settings.users)',
    ],
    [
      "an account without password or key",
      (s: any) => (s.customers[1].fileAccounts[0].password = false),
      'customers[1].fileAccounts[0]: account "globex" has neither a password nor an SSH key; it could never log in',
    ],
    [
      "a malformed SSH key",
      (s: any) => (s.customers[0].fileAccounts[0].sshKeys = ["AAAA"]),
      "customers[0].fileAccounts[0].sshKeys[0]: expected an OpenSSH public key such as ssh-ed25519 AAAA… user@host",
    ],
    [
      "a record outside the domain",
      (s: any) => s.customers[0].domains[0].records.push({ name: "www.globex.test.", type: "A", data: "192.0.2.1" }),
      "customers[0].domains[0].records[2].name: www.globex.test is outside the customer's domain acme.test",
    ],
    [
      "a CNAME at the apex",
      (s: any) => s.customers[0].domains[0].records.push({ name: "@", type: "CNAME", data: "other.example." }),
      "customers[0].domains[0].records[2].type: a CNAME record cannot sit at the zone apex acme.test",
    ],
    ["a customer without domains", (s: any) => (s.customers[1].domains = []), "customers[1].domains: a customer needs at least one domain"],
    [
      "a customer without file accounts",
      (s: any) => (s.customers[1].fileAccounts = []),
      "customers[1].fileAccounts: a customer needs a file account to publish their site",
    ],
    [
      "no file service",
      (s: any) => (s.services = s.services.filter((x: any) => x.role !== "file")),
      "customers: customers need a file service to hold their files; none is declared",
    ],
    [
      "mailboxes without a mail service",
      (s: any) => (s.services = s.services.filter((x: any) => x.role !== "mail")),
      "customers[0].mailboxes: mailboxes need a mail service; none is declared",
    ],
    [
      "a file service off the internet",
      (s: any) => (s.services[4].networks = ["private"]),
      'services[4].networks: file service "files" holds the customers\' accounts, which they reach over SFTP/FTPS from the internet; add an internet network (public)',
    ],
    ["an unknown key", (s: any) => (s.customers[0].colour = "red"), "customers[0].colour: is not a known setting (check the spelling)"],
  ])("refuses %s", (_name, mutate, expected) => {
    expect(problems(mutate)).toContain(expected);
  });
});

describe("customers in the plan", () => {
  const plan = planDatacenter((validateSpec(withCustomers()) as { ok: true; spec: any }).spec);
  const zone = (origin: string) => plan.zones.find((z) => z.origin === origin)!;
  const edge = plan.replicas.filter((r) => r.service === "edge").map((r) => r.addresses.public);

  it("gives each customer their plan's quota and serves their site from the first account's public_html", () => {
    const acme = plan.customers!.find((c) => c.id === "acme")!;
    expect(acme.quotaBytes).toBe(100 * 1024 * 1024);
    expect(acme.site).toEqual({
      account: "acme",
      folder: "public_html",
      fileService: "files",
      webService: "www",
      proxyService: "edge",
      names: ["acme.test", "www.acme.test"],
    });
    expect(acme.mailboxes).toEqual([
      { address: "info@acme.test", quotaBytes: 256 * 1024 * 1024 },
      { address: "sales@acme.test", quotaBytes: 100 * 1024 * 1024 },
    ]);
  });

  it("gives the mail service every customer domain its MX names, with mailboxes or not (so unknown addresses get 550, not relay denied)", () => {
    const mail = plan.services.find((s) => s.role === "mail")!;
    const view = mailViewOf(plan, mail);
    expect(plan.customers!.find((c) => c.id === "globex")!.mailboxes).toEqual([]);
    expect(view.domains).toEqual(expect.arrayContaining(["acme.test", "globex.test"]));
    expect(view.mailboxes.map((m) => m.address)).toEqual(["info@acme.test", "sales@acme.test"]);
  });

  it("has a zone per customer domain on the datacenter's name servers, pointing at the proxy and the mail service", () => {
    const z = zone("acme.test");
    const of = (name: string, type: string) => z.records.filter((r) => r.name === name && r.type === type).map((r) => r.data);
    expect(of("acme.test", "SOA")).toHaveLength(1);
    expect(of("acme.test", "NS")).toEqual(["ns1.fra1.park.test", "ns2.fra1.park.test"]);
    expect(edge).toHaveLength(2);
    expect(of("acme.test", "A").sort()).toEqual([...edge].sort());
    expect(of("www.acme.test", "A").sort()).toEqual([...edge].sort());
    expect(of("acme.test", "MX")).toEqual([{ preference: 10, exchange: "mail.fra1.park.test" }]);
    expect(of("blog.acme.test", "CNAME")).toEqual(["www.acme.test"]);
    expect(of("acme.test", "TXT")).toEqual([["v=spf1 mx -all"]]);
    expect(zone("globex.test").records.some((r) => r.name === "blog.globex.test")).toBe(false);
  });

  it("lets a customer's own record replace the default one", () => {
    const spec = withCustomers();
    spec.customers[1].domains[0].records = [{ name: "www", type: "CNAME", data: "elsewhere.example." }];
    const p = planDatacenter((validateSpec(spec) as { ok: true; spec: any }).spec);
    const www = p.zones.find((z) => z.origin === "globex.test")!.records.filter((r) => r.name === "www.globex.test");
    expect(www).toEqual([{ name: "www.globex.test", ttl: 300, type: "CNAME", data: "elsewhere.example" }]);
  });

  it("publishes the file service's SFTP, FTP and passive ports; the Docker target gives the passive ports an unbroken run of the stack's host ports", () => {
    const files = plan.replicas.find((r) => r.service === "files")!;
    expect(files.published.map((p) => `${p.name}:${p.audience}`)).toEqual([
      "sftp:internet",
      "ftp:internet",
      ...Array.from({ length: 10 }, (_, i) => `ftp-passive-${30000 + i}:internet`),
    ]);
    const ports = allocateHostPorts(local.docker ?? { publishAddress: "127.0.0.1", basePort: 20000 }, plan);
    expect(ports.ok).toBe(true);
    const mine = ports.ok ? ports.ports.byReplica.get(files.id)! : [];
    const passive = mine.filter((p) => p.name.startsWith("ftp-passive-")).map((p) => p.hostPort);
    expect(passive.map((port) => port - passive[0]!)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    // With the stack's other ports, packed from the base port up: no fixed number shared with other stacks.
    expect(passive[0]).toBeGreaterThan(20000);
    expect(passive[9]).toBeLessThan(20000 + Object.keys(ports.ok ? ports.ports.lock : {}).length);
    const sftp = mine.find((p) => p.name === "sftp")!;
    expect(sftp.hostPort).toBeGreaterThanOrEqual(20000);
    expect(sftp.hostPort).toBeLessThan(30000);
  });

  it("has the NOC probe each customer domain over HTTPS through every proxy replica", () => {
    const noc = plan.services.find((s) => s.role === "noc")!;
    const view = nocView(
      plan,
      plan.replicas.find((r) => r.service === noc.id)!,
      noc,
    );
    const sites = view.targets.filter((t) => t.site !== undefined).map((t) => `${t.replica} ${t.port.name} ${t.port.port} ${t.site}`);
    expect(sites.sort()).toEqual([
      "edge-0 site:acme.test 443 acme.test",
      "edge-0 site:globex.test 443 globex.test",
      "edge-1 site:acme.test 443 acme.test",
      "edge-1 site:globex.test 443 globex.test",
    ]);
  });

  it("has no customers key when the spec has none", () => {
    const none = structuredClone(local);
    none.customers = [];
    const p = planDatacenter((validateSpec(none) as { ok: true; spec: any }).spec);
    expect("customers" in p).toBe(false);
    expect(p.zones.some((z) => z.origin === "acme.test")).toBe(false);
  });
});

/** The local stack file (which has a hosting plan and the file service on the internet network) with these customers instead of its own. */
function customerStack(customers: string): string {
  return stackVariant("local", [[/\n    customers:\n[\s\S]*$/, `\n    customers:\n${customers}\n`]]);
}

describe("serverpark plan and validate with customers", () => {
  it("plan shows customers, domains, quotas and where their sites are served", async () => {
    const file = customerStack(
      [
        "      - { id: acme, plan: web-s, domains: [{ name: acme.test }], fileAccounts: [{ name: acme }] }",
        "      - { id: globex, plan: web-s, domains: [{ name: globex.test }], fileAccounts: [{ name: globex }] }",
      ].join("\n"),
    );
    const c = captureIo();
    expect(await main(["plan", file], c), c.stderr).toBe(0);
    const row = c.stdout.split("\n").find((l) => l.startsWith("acme "));
    expect(row).toBeDefined();
    expect(row).toMatch(
      /acme\s+web-s\s+100 MiB\s+acme\.test\s+acme\(password\)\s+-\s+files:acme\/public_html → www via edge: https:\/\/acme\.test\/ https:\/\/www\.acme\.test\//,
    );
    expect(c.stdout).toMatch(/DNS: \d+ zones, .*acme\.test, globex\.test\)/);
  });

  it("validate refuses bad customers at their line and config path", async () => {
    const file = customerStack(
      [
        "      - { id: acme, plan: web-s, domains: [{ name: acme.test }], fileAccounts: [{ name: acme }] }",
        "      - { id: globex, plan: vps-s, domains: [{ name: acme.test }], fileAccounts: [{ name: acme }] }",
      ].join("\n"),
    );
    const c = captureIo();
    expect(await main(["validate", file], c)).toBe(1);
    expect(c.stderr).toMatch(/Pulumi\.local\.yaml:\d+:\d+: serverpark:datacenter\.customers\[1\]\.plan: plan "vps-s" is not sold for hosting/);
    expect(c.stderr).toMatch(/Pulumi\.local\.yaml:\d+:\d+: serverpark:datacenter\.customers\[1\]\.domains\[0\]\.name: duplicate domain acme\.test/);
    expect(c.stderr).toMatch(/Pulumi\.local\.yaml:\d+:\d+: serverpark:datacenter\.customers\[1\]\.fileAccounts\[0\]\.name: "acme" is already an account/);
    expect(c.stderr).toContain("has 3 problems");
  });
});
