/**
 * The dns replicas on real Docker: dig and kdig against the published port (UDP and TCP),
 * and the other replicas resolving datacenter names through them (the Docker target points
 * every container's resolver at the dns replicas).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { dig } from "../dns/fixture";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

describeE2e("dns replicas on Docker", () => {
  it("are healthy and answer authoritatively over UDP and TCP on the published port", async () => {
    const ns = dc.replica("ns-0");
    expect(ns.health, ns.name).toBe("healthy");
    const udp = await dig(ns.published["53/udp"]!, [`edge.${dc.domain}`, "A"]);
    expect(udp.status).toBe("NOERROR");
    expect(udp.flags).toContain("aa");
    const edges = dc.containers.filter((c) => c.service === "edge").map((c) => c.addresses.public);
    expect(udp.answer.map((l) => l.split(" ").pop()).sort()).toEqual(edges.sort());
    const tcp = await dig(ns.published["53/tcp"]!, ["+tcp", dc.domain, "SOA"], "kdig");
    expect(tcp.status).toBe("NOERROR");
    expect(tcp.answer.join("\n")).toMatch(new RegExp(`SOA ns1\\.${dc.domain.replace(/\./g, "\\.")}\\.`));
  });

  it("serves the www CNAME from the stack settings, NXDOMAIN inside the zone and REFUSED outside it", async () => {
    const port = dc.replica("ns-1").published["53/udp"]!;
    const www = await dig(port, [`www.${dc.domain}`, "A"]);
    expect(www.answer[0]).toMatch(new RegExp(`CNAME edge\\.${dc.domain.replace(/\./g, "\\.")}\\.$`));
    expect((await dig(port, [`nope.${dc.domain}`, "A"])).status).toBe("NXDOMAIN");
    expect((await dig(port, ["+rec", "example.com", "A"])).status).toBe("REFUSED");
  });

  it("is the resolver of the other replicas", async () => {
    const web = dc.replica("www-0");
    const script = `require("node:dns").promises.resolve4("edge.${dc.domain}").then((a) => console.log(a.sort().join(",")), (e) => { console.log("ERR " + e.code); process.exit(1); })`;
    const { stdout } = await run("docker", ["exec", web.name, "node", "-e", script], { timeout: 20_000 });
    const edges = dc.containers.filter((c) => c.service === "edge").map((c) => c.addresses.public);
    expect(stdout.trim()).toBe(edges.sort().join(","));
  });
});
