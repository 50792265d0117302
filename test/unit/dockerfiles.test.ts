/**
 * The role Dockerfiles are made from one template (images/dockerfiles.ts): each committed
 * images/<role>/Dockerfile must be exactly what the template gives, every role with a server
 * must have one, and EXPOSE must list the ports the role catalogue says the role listens on.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROLE_INFO, type RolePort } from "../../contracts/roles";
import { exposeList, renderDockerfile, ROLE_IMAGES } from "../../images/dockerfiles";

const IMAGES = join(__dirname, "..", "..", "images");
const tcp = (port: number): RolePort => ({ name: `p${port}`, port, protocol: "tcp", publish: "none" });

describe("role Dockerfiles", () => {
  it("has a template entry for exactly the roles that have a server", () => {
    const roles = readdirSync(IMAGES).filter((name) => existsSync(join(IMAGES, name, "src", "main.ts")));
    expect(Object.keys(ROLE_IMAGES).sort()).toEqual(roles.sort());
  });

  it.each(Object.keys(ROLE_IMAGES))("images/%s/Dockerfile is what the template gives (else run `npx tsx images/build.ts --dockerfiles`)", (role) => {
    const committed = readFileSync(join(IMAGES, role, "Dockerfile"), "utf8");
    expect(committed).toBe(renderDockerfile(role as keyof typeof ROLE_IMAGES));
  });

  it.each(Object.values(ROLE_INFO).map((info) => [info.role, info.ports] as const))("%s exposes every catalogue port and 9100", (role, ports) => {
    const expose = /^EXPOSE (.*)$/m.exec(renderDockerfile(role))![1]!.split(" ");
    for (const port of ports) {
      const covered = expose.some((word) => {
        const [range, protocol = "tcp"] = word.split("/") as [string, string?];
        const [from, to = from] = range.split("-").map(Number) as [number, number?];
        return protocol === port.protocol && port.port >= from && port.port <= to!;
      });
      expect(covered, `${role} ${port.port}/${port.protocol}`).toBe(true);
    }
    expect(expose.at(-1)).toBe("9100");
  });
});

describe("exposeList", () => {
  it("sorts ports, keeps protocols apart (TCP plain) and writes three or more consecutive ports as a range", () => {
    const udp53: RolePort = { name: "dns", port: 53, protocol: "udp", publish: "none" };
    expect(exposeList([tcp(22), tcp(21), tcp(30002), tcp(30000), tcp(30001), udp53, tcp(53)])).toEqual(["21", "22", "53", "53/udp", "30000-30002", "9100"]);
    expect(exposeList([])).toEqual(["9100"]);
  });
});
