/** The Hetzner stack's spec and plan, and helpers to vary them in tests. */
import { loadStackFile } from "../../components/spec/load";
import { planDatacenter } from "../../components/plan";
import { lockPathFor, readLock } from "../../components/plan/lock";
import type { DatacenterSpec } from "../../components/spec/schema";
import { validateSpec } from "../../components/spec/validate";

export const stackFile = loadStackFile("hetzner");
export const rawSpec = stackFile.config["serverpark:datacenter"] as Record<string, any>;

/** A deep copy of the stack's raw spec, changed by `edit`, validated and planned. */
export function specWith(edit: (raw: Record<string, any>) => void = () => {}): { spec: DatacenterSpec; plan: ReturnType<typeof planDatacenter> } {
  const raw = structuredClone(rawSpec);
  edit(raw);
  const result = validateSpec(raw);
  if (!result.ok) throw new Error(`fixture spec invalid: ${JSON.stringify(result.issues)}`);
  return { spec: result.spec, plan: planDatacenter(result.spec, readLock(lockPathFor(stackFile.path))) };
}

/** The Hetzner stack with one hosting plan and one customer, globex (its file service then faces the internet too). */
export function withCustomer(raw: Record<string, any>): void {
  raw.plans.push({ id: "web-s", kind: "vps", cpus: 1, memoryGb: 0.5, diskGb: 10, hosting: { quotaMb: 100, customers: 2 } });
  raw.services.find((s: { id: string }) => s.id === "files").networks = ["public", "private"];
  raw.customers = [{ id: "globex", plan: "web-s", domains: [{ name: "globex.example" }], fileAccounts: [{ name: "globex" }] }];
}

export const REGISTRY_PASSWORD = "s3cr3t-registry-pass-7f1c";

/** What must not depend on the target: placement, every address, and the DNS zones. */
export function planEssence(plan: ReturnType<typeof planDatacenter>) {
  return {
    placement: Object.fromEntries(plan.replicas.map((r) => [r.id, { host: r.host, rack: r.rack, feeds: r.feeds }])),
    replicaAddresses: Object.fromEntries(plan.replicas.map((r) => [r.id, r.addresses])),
    hostAddresses: Object.fromEntries(plan.hosts.map((h) => [h.id, h.addresses])),
    zones: plan.zones,
    exposure: plan.exposure,
  };
}
