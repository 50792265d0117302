/**
 * Hosting customers' sites on the Hetzner target (components/targets/hetzner/sites.ts): no
 * volume is shared between servers, so the file replica serves its published sites on its
 * management port and each web replica pulls them. The rendering: the file replica's unit
 * turns serving on and mounts a sites directory of its server; each web replica's unit names
 * the file replica's management URL, the bound (the customers' plan quota) and a directory of
 * its own; the management port the pull uses is published on the file replica's management
 * address only, never opened on the public interface. Under Pulumi's mocks the whole program
 * gives every web replica its own sites client certificate (a secret key on the wire).
 */
import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { MANAGEMENT_PORT } from "../../contracts/roles";
import { SITES_CLIENT_OU, SITES_CLIENT_TLS_PATHS, SITES_ENV } from "../../contracts/sites";
import { CUSTOMER_SITES_PATH } from "../../contracts/paths";
import { replicaLaunch } from "../../components/model/launch";
import type { ProgramResult } from "../../components/program";
import { replicaContainer } from "../../components/targets/hetzner/containers";
import { firewallRules } from "../../components/targets/hetzner/firewall";
import { checkHetzner } from "../../components/targets/hetzner/settings";
import { checkSitesPull } from "../../components/targets/hetzner/sites";
import { fileSlug, renderUnit, SITES } from "../../components/targets/hetzner/units";
import { runUnderMocks, type MockRun } from "../support/pulumiMocks";
import { evaluatePolicies } from "../../components/compliance/evaluate";
import { recordStack } from "../../components/compliance/record";
import { POLICIES } from "../../policies/rules";
import { copiesOf, execStart, type Copied } from "./deployed";
import { REGISTRY_PASSWORD, specWith, stackFile, withCustomer } from "./fixture";

const { plan } = specWith(withCustomer);
const service = (id: string) => plan.services.find((s) => s.id === id)!;
const replica = (id: string) => plan.replicas.find((r) => r.id === id)!;
const container = (id: string) =>
  replicaContainer(plan, replicaLaunch(plan, replica(id), service(replica(id).service), [], []), `registry.example.com/x/${id}`, true);
const unitArgs = (id: string) => execStart(renderUnit(plan.datacenter, plan.domain, replica(id).host, container(id)));

describe("customers' sites on Hetzner: the rendering", () => {
  it("the file replica serves its published sites from a directory of its server", () => {
    const c = container("files-0");
    expect(c.env[SITES_ENV.serve]).toBe("1");
    const argv = unitArgs("files-0");
    expect(argv).toContain(`${SITES}/files-0:${CUSTOMER_SITES_PATH}`);
    expect(argv).toContain(`${SITES_ENV.serve}=1`);
    // The port the web replicas pull from: the management port on the management address.
    expect(c.ports).toContainEqual({ address: replica("files-0").addresses.mgmt, port: MANAGEMENT_PORT, protocol: "tcp" });
  });

  it("each web replica pulls from the file replica's management address, bounded by the plan's quota", () => {
    for (const id of ["www-0", "www-1"]) {
      const c = container(id);
      expect(JSON.parse(c.env[SITES_ENV.pullFrom]!)).toEqual([`https://${replica("files-0").addresses.mgmt}:${MANAGEMENT_PORT}`]);
      expect(c.env[SITES_ENV.maxBytes]).toBe(String(100 * 1024 * 1024));
      const argv = unitArgs(id);
      expect(argv).toContain(`${SITES}/${id}:${CUSTOMER_SITES_PATH}`); // written by the puller: not read-only
      expect(argv.some((a) => a.startsWith(`${SITES_ENV.pullFrom}=`))).toBe(true);
      expect(renderUnit(plan.datacenter, plan.domain, replica(id).host, c)).toContain(`ExecStartPre=/bin/chown 1000:1000 ${SITES}/${id}`);
    }
  });

  it("replicas without customers' sites get none of it", () => {
    for (const id of ["mail-0", "db-0"]) {
      const c = container(id);
      expect(c.sites, id).toBeUndefined();
      expect(
        Object.keys(c.env).filter((k) => (Object.values(SITES_ENV) as string[]).includes(k)),
        id,
      ).toEqual([]);
    }
  });

  it("validation accepts the customer, and refuses it when the pull could not reach the file replica", () => {
    expect(checkSitesPull(plan)).toEqual([]);
    expect(checkHetzner(specWith(withCustomer).spec, plan).ok).toBe(true);
    const cut = structuredClone(plan);
    delete (cut.replicas.find((r) => r.id === "files-0")!.addresses as Record<string, string>).mgmt;
    expect(checkSitesPull(cut)).toEqual([{ path: ["customers", 0], message: expect.stringMatching(/files-0 needs an address on a management network/) }]);
    const apart = structuredClone(plan);
    delete (apart.hosts.find((h) => h.id === replica("www-1").host)!.addresses as Record<string, string>).mgmt;
    expect(checkSitesPull(apart)).toEqual([{ path: ["customers", 0], message: expect.stringMatching(/servers of www-1 need an address on network mgmt/) }]);
  });

  it("the pull stays on the private network: the file server's firewall never opens the management port", () => {
    const host = plan.hosts.find((h) => h.id === replica("files-0").host)!;
    const rules = firewallRules(plan, host, ["198.51.100.0/24"]);
    expect(rules.map((r) => r.port)).not.toContain(String(MANAGEMENT_PORT));
  });
});

describe("customers' sites on Hetzner: the program under mocks", () => {
  let run: MockRun<ProgramResult>;
  let copies: Copied[];
  beforeAll(async () => {
    const raw = structuredClone(stackFile.config["serverpark:datacenter"]) as Record<string, any>;
    withCustomer(raw);
    run = await runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), {
      stack: "hetzner",
      config: { ...stackFile.config, "serverpark:datacenter": raw, "serverpark:target": "hetzner", "serverpark:registryPassword": REGISTRY_PASSWORD },
    });
    copies = await copiesOf(run);
  }, 240_000);

  it("gives each web replica its own sites client certificate, its key a secret", () => {
    for (const id of ["www-0", "www-1"]) {
      const cert = copies.find((c) => c.remotePath.endsWith(`/${id}/files/${fileSlug(SITES_CLIENT_TLS_PATHS.cert)}`));
      const key = copies.find((c) => c.remotePath.endsWith(`/${id}/files/${fileSlug(SITES_CLIENT_TLS_PATHS.key)}`));
      expect(cert, id).toBeDefined();
      expect(key?.secret, id).toBe(true);
      const subject = new X509Certificate(cert!.content).subject;
      expect(subject).toContain(`OU=${SITES_CLIENT_OU}`);
      expect(subject).toContain(`CN=www/${id}`);
    }
    // Nobody else holds one.
    const holders = copies.filter((c) => c.remotePath.endsWith(fileSlug(SITES_CLIENT_TLS_PATHS.cert))).map((c) => c.remotePath);
    expect(holders).toHaveLength(2);
  });
});

describe("customers' sites on Hetzner: the policy pack", () => {
  it("passes every policy with a customer (sp-303 aside, as in policies.test.ts)", async () => {
    const raw = structuredClone(stackFile.config["serverpark:datacenter"]) as Record<string, any>;
    withCustomer(raw);
    const stack = await recordStack(async () => (await import("../../components/program.js")).runProgram(), {
      stack: "hetzner",
      config: { ...stackFile.config, "serverpark:datacenter": raw, "serverpark:registryPassword": { secure: "v1:fixture" } },
      secrets: { "serverpark:registryPassword": REGISTRY_PASSWORD },
    });
    const evaluation = await evaluatePolicies(POLICIES, stack.resources, { packEnforcementLevel: "mandatory" });
    const judged = evaluation.violations.filter((v) => v.policy !== "sp-303-published-ports-allowed");
    expect(judged.map((v) => `${v.policy}: ${v.detail}`)).toEqual([]);
  }, 240_000);
});
