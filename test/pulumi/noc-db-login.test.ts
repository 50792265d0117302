/**
 * The NOC's database login on the local stack under Pulumi mocks, checked on the wire form
 * the engine receives: one generated password per datacenter, a Pulumi secret; the NOC gets
 * the password, the db replica only a SCRAM verifier made from it; neither appears outside a
 * secret (inputs, plain config files, logs of the program, stack outputs). Also the name the
 * NOC asks the proxy for over HTTPS, which must be on the proxy's certificate.
 */
import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { scramVerifierMatches } from "../../contracts/credentials/scram";
import { loadStackFile } from "../../components/spec/load";
import { isSecretValue, runUnderMocks, valueOf, type MockRun, type RecordedResource } from "../support/pulumiMocks";
import { configWithView, uploadsOf } from "../support/runtimeConfig";

const CONTAINER = "docker:index/container:Container";
const PASSWORD = "random:index/randomPassword:RandomPassword";

let run: MockRun<typeof import("../../stacks/index.js")>;
const logged: string[] = [];

beforeAll(async () => {
  // Everything the program prints while it runs (Pulumi's log calls end up on the console under mocks).
  const original = { log: console.log, warn: console.warn, error: console.error, info: console.info };
  for (const k of ["log", "warn", "error", "info"] as const) console[k] = (...args: unknown[]) => void logged.push(args.map(String).join(" "));
  try {
    run = await runUnderMocks(() => import("../../stacks/index.js"), { stack: "local", config: loadStackFile("local").config });
  } finally {
    Object.assign(console, original);
  }
});

const label = (r: RecordedResource, key: string) => (r.inputs.labels as { label: string; value: string }[]).find((l) => l.label === `serverpark.${key}`)?.value;
const container = (replica: string) => run.byType(CONTAINER).find((c) => label(c, "replica") === replica)!;
const uploads = (c: RecordedResource) => uploadsOf(c.inputs.uploads);

/** Every string in a wire value that is not inside a secret wrapper. */
function plainStrings(v: unknown, out: string[] = []): string[] {
  if (isSecretValue(v)) return out;
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) plainStrings(x, out);
  else if (v && typeof v === "object") for (const x of Object.values(v)) plainStrings(x, out);
  return out;
}

describe("the NOC's database login under mocks", () => {
  it("is one generated password per datacenter, a Pulumi secret", () => {
    const logins = run.byType(PASSWORD).filter((r) => r.name === "fra1-noc-db-login");
    expect(logins).toHaveLength(1);
    expect(logins[0]!.inputs).toMatchObject({ length: 32, special: false });
    expect(run.byType("random:index/randomBytes:RandomBytes").map((r) => r.name)).toContain("fra1-noc-db-login-salt");
  });

  it("reaches the NOC as its password file and the db replica only as a SCRAM verifier", () => {
    const password = uploads(container("noc-0")).get("/etc/serverpark/secrets/noc-db-password")!;
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const login = JSON.parse(uploads(container("db-0")).get("/etc/serverpark/secrets/db-probe-login.json")!) as Record<string, string>;
    expect(login).toMatchObject({ user: "noc", database: "postgres" });
    expect(scramVerifierMatches(login.verifier!, password)).toBe(true);
    expect(JSON.stringify([...uploads(container("db-0"))])).not.toContain(password);
    // The other data node of the HA group holds the same verifier (either may be primary when the NOC logs in).
    expect(uploads(container("db-1")).get("/etc/serverpark/secrets/db-probe-login.json")).toBe(
      uploads(container("db-0")).get("/etc/serverpark/secrets/db-probe-login.json"),
    );
    // Nobody outside the NOC and the db group gets either.
    for (const c of run.byType(CONTAINER).filter((x) => !["noc-0", "db-0", "db-1", "db-monitor"].includes(label(x, "replica") ?? ""))) {
      const all = JSON.stringify([...uploads(c)]);
      expect(all, c.name).not.toContain(password);
      expect(all, c.name).not.toContain(login.verifier);
    }
  });

  it("never appears outside a secret on the wire, in plain config, in what the program logs, or in the stack outputs", async () => {
    const password = uploads(container("noc-0")).get("/etc/serverpark/secrets/noc-db-password")!;
    const verifier = (JSON.parse(uploads(container("db-0")).get("/etc/serverpark/secrets/db-probe-login.json")!) as { verifier: string }).verifier;
    for (const c of [container("noc-0"), container("db-0")]) {
      expect(isSecretValue(c.rawInputs.uploads), `${c.name}: uploads carrying the login must be a Pulumi secret`).toBe(true);
      // The non-secret config file the replica reads (and any plain env var) holds neither.
      expect(uploads(c).get("/etc/serverpark/config.json")).not.toContain(password);
      expect(JSON.stringify(c.inputs.envs ?? [])).not.toContain(password);
    }
    for (const r of run.resources) {
      const plain = plainStrings(r.rawInputs).join("\n");
      expect(plain, `${r.type} ${r.name}`).not.toContain(password);
      expect(plain, `${r.type} ${r.name}`).not.toContain(verifier);
    }
    expect(logged.join("\n")).not.toContain(password);
    const outputs = JSON.stringify(
      await Promise.all([run.exports.domain, run.exports.endpoints, run.exports.addresses, run.exports.undeployedServices].map((o) => valueOf(o as never))),
    );
    expect(outputs).not.toContain(password);
    expect(outputs).not.toContain(verifier);
  });

  it("tells the NOC a name on the proxy's certificate to ask it for over HTTPS", () => {
    // In the NOC's view (its runtime config), next to its probe targets.
    const view = (configWithView(uploads(container("noc-0"))) as { noc: { proxyHosts: Record<string, string> } }).noc;
    expect(view.proxyHosts).toEqual({ edge: "www.fra1.park.test" });
    const cert = new X509Certificate(uploads(container("edge-0")).get("/etc/serverpark/tls/tls.crt")!);
    expect(cert.checkHost(view.proxyHosts.edge!)).toBe("www.fra1.park.test");
  });
});
