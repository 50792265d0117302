/**
 * Customer domains on the dns role, asked with dig: the runtime config the program writes
 * for ns-0 of the local stack with two customers (test/support/customers.ts) is served by the
 * real server, which must answer authoritatively for each customer domain (SOA, NS, A to the
 * proxy, MX to the mail service, the customer's own records) next to the datacenter's zone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../images/runtime/log";
import { startDnsApp, type DnsApp } from "../../images/dns/src/app";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { customerPlan } from "../support/customers";
import { dig, requireTool, writeConfig } from "./fixture";

const log = createLogger({ role: "dns", level: "silent" });
const { plan } = customerPlan();
const edge = plan.replicas
  .filter((r) => r.service === "edge")
  .map((r) => r.addresses.public!)
  .sort();
const mail = plan.replicas.find((r) => r.service === "mail")!.addresses.public!;
let app: DnsApp;
let port: number;
let hasDig = false;

beforeAll(async () => {
  hasDig = await requireTool("dig");
  const service = plan.services.find((s) => s.role === "dns")!;
  const replica = plan.replicas.find((r) => r.id === service.replicas[0])!;
  const config = replicaRuntimeConfig(plan, replica, service);
  app = await startDnsApp({ configPath: writeConfig(config), host: "127.0.0.1", port: 0, log, watchIntervalMs: 0 });
  port = app.server.port;
});
afterAll(() => app?.close());

const rdata = (lines: readonly string[], type: string) =>
  lines
    .filter((l) => l.split(" ")[3] === type)
    .map((l) => l.split(" ").slice(4).join(" "))
    .sort();

describe("customer domains on the datacenter's name servers (dig)", () => {
  it.each(["acme.test", "globex.test"])("%s: SOA and NS name the datacenter's name servers, authoritatively", async (domain) => {
    if (!hasDig) return;
    const soa = await dig(port, [domain, "SOA"]);
    expect(soa.status).toBe("NOERROR");
    expect(soa.flags).toContain("aa");
    expect(rdata(soa.answer, "SOA")[0]).toMatch(new RegExp(`^ns1\\.fra1\\.park\\.test\\. hostmaster\\.${domain.replace(".", "\\.")}\\. \\d+ `));
    const ns = await dig(port, [domain, "NS"]);
    expect(rdata(ns.answer, "NS")).toEqual(["ns1.fra1.park.test.", "ns2.fra1.park.test."]);
  });

  it.each(["acme.test", "www.acme.test", "globex.test", "www.globex.test"])("%s A is the proxy's internet addresses", async (name) => {
    if (!hasDig) return;
    const r = await dig(port, [name, "A"]);
    expect(r.status).toBe("NOERROR");
    expect(r.flags).toContain("aa");
    expect(rdata(r.answer, "A")).toEqual(edge);
  });

  it("MX of a customer domain is the mail service, whose address the datacenter's zone gives", async () => {
    if (!hasDig) return;
    const mx = await dig(port, ["acme.test", "MX"]);
    expect(rdata(mx.answer, "MX")).toEqual(["10 mail.fra1.park.test."]);
    const a = await dig(port, ["mail.fra1.park.test", "A"]);
    expect(rdata(a.answer, "A")).toEqual([mail]);
  });

  it("serves the customer's own records: a CNAME followed to the proxy, a TXT at the apex", async () => {
    if (!hasDig) return;
    const blog = await dig(port, ["blog.acme.test", "A"]);
    expect(blog.status).toBe("NOERROR");
    expect(rdata(blog.answer, "CNAME")).toEqual(["www.acme.test."]);
    expect(rdata(blog.answer, "A")).toEqual(edge);
    const txt = await dig(port, ["acme.test", "TXT"]);
    expect(rdata(txt.answer, "TXT")).toEqual(['"v=spf1 mx -all"']);
  });

  it("NXDOMAIN with the customer zone's SOA for a missing name; REFUSED for a domain nobody here owns", async () => {
    if (!hasDig) return;
    const missing = await dig(port, ["nope.globex.test", "A"]);
    expect(missing.status).toBe("NXDOMAIN");
    expect(missing.flags).toContain("aa");
    expect(missing.authority.join("\n")).toMatch(/^globex\.test\. \d+ IN SOA ns1\.fra1\.park\.test\./);
    // The other customer's records stay in their zone.
    const other = await dig(port, ["blog.globex.test", "A"]);
    expect(other.status).toBe("NXDOMAIN");
    const foreign = await dig(port, ["initech.test", "A"]);
    expect(foreign.status).toBe("REFUSED");
  });
});
