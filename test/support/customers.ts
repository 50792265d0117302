/** The local stack's spec with two hosting plans and two customers (acme, globex), for the customer tests. */
import { loadStackFile } from "../../components/spec/load";
import { formatPath } from "../../components/spec/issues";
import { validateSpec } from "../../components/spec/validate";
import { planDatacenter, type DatacenterPlan } from "../../components/plan";
import type { DatacenterSpec } from "../../components/spec/schema";

const local = loadStackFile("local").config["serverpark:datacenter"] as Record<string, any>;
export const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4xT8o3mUQ0yq7m3b7rB1vYz5bJm2m3d3xj0o5l5Q5Z acme@laptop";

/** The local stack with a hosting plan and two customers. */
export function withCustomers(): Record<string, any> {
  const spec = structuredClone(local);
  // The local stack's own example customers and hosting plan give way to these.
  spec.plans = spec.plans.filter((p: { hosting?: unknown }) => p.hosting === undefined);
  spec.plans.push(
    {
      id: "web-s",
      kind: "vps",
      cpus: 1,
      memoryGb: 0.5,
      diskGb: 10,
      hosting: { quotaMb: 100, customers: 2, domains: 2, fileAccounts: 2, mailboxes: 2, mailboxQuotaMb: 256 },
    },
    { id: "web-xl", kind: "vps", cpus: 1, memoryGb: 0.5, diskGb: 10, hosting: { quotaMb: 30_000, customers: 10 } },
  );
  // Customers reach their accounts from the internet: the file service faces it too.
  spec.services.find((s: { role: string }) => s.role === "file").networks = ["public", "private"];
  spec.customers = [
    {
      id: "acme",
      plan: "web-s",
      domains: [
        {
          name: "acme.test",
          records: [
            { name: "blog", type: "CNAME", data: "www" },
            { name: "@", type: "TXT", data: "v=spf1 mx -all" },
          ],
        },
      ],
      fileAccounts: [{ name: "acme", sshKeys: [KEY] }],
      mailboxes: [{ address: "info@acme.test" }, { address: "sales@acme.test", quotaMb: 100 }],
    },
    { id: "globex", plan: "web-s", domains: [{ name: "globex.test" }], fileAccounts: [{ name: "globex" }] },
  ];
  return spec;
}

/** The validated spec and plan of `spec` (default: withCustomers()); throws on a problem. */
export function customerPlan(spec: Record<string, any> = withCustomers()): { spec: DatacenterSpec; plan: DatacenterPlan } {
  const result = validateSpec(spec);
  if (!result.ok) throw new Error(result.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"));
  return { spec: result.spec, plan: planDatacenter(result.spec) };
}

/** What validate says about withCustomers() after `mutate`, one `path: message` line per issue. */
export function customerProblems(mutate: (spec: Record<string, any>) => void): string[] {
  const spec = withCustomers();
  mutate(spec);
  const result = validateSpec(spec);
  return result.ok ? [] : result.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
}
