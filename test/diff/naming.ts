/** Shared by the naming-*.test.ts files (one stack per file: Pulumi's mocks are process-global). */
import { expect } from "vitest";
import { sideFromFile } from "../../cli/commands/diff";
import { groupPreview, partNames, partOf } from "../../components/diff/preview";
import { loadStackFile } from "../../components/spec/load";
import { runUnderMocks } from "../support/pulumiMocks";
import { ROOT } from "./cases";

/** `extraConfig`: values a stack keeps as secrets outside its file (the Hetzner registry password). */
export async function expectEveryResourceGrouped(stack: string, extraConfig: Record<string, unknown> = {}): Promise<void> {
  const loaded = sideFromFile(stack, ROOT);
  const side = loaded.side!;
  const run = await runUnderMocks(() => import("../../stacks/index.js"), {
    stack,
    config: { ...loadStackFile(stack, ROOT).config, ...extraConfig },
    realTls: false,
  });
  const names = partNames([side]);
  expect(run.resources.length).toBeGreaterThan(side.plan.hosts.length);
  const other = run.resources.filter((r) => partOf(r.name, names).part === "other").map((r) => `${r.type} ${r.name}`);
  expect(other, "resources outside every datacenter part").toEqual([]);
  // Every replica's resources sit under its own service, with the replica id.
  for (const replica of side.plan.replicas) {
    for (const r of run.resources.filter((x) => x.name.startsWith(`${side.spec.name}-svc-${replica.service}-${replica.index}`))) {
      const part = partOf(r.name, names);
      if (part.replica === undefined) continue; // a service-level resource of a service whose id extends this one
      expect(part, `${r.type} ${r.name}`).toEqual({ part: `service ${replica.service}`, replica: replica.id });
    }
  }
  // A preview creating all of it groups into one block per part, nothing left over.
  const steps = run.resources.map((r) => ({ op: "create", urn: `urn:pulumi:${stack}::serverpark::${r.type}::${r.name}` }));
  const grouped = groupPreview({ steps }, names);
  expect(grouped.groups.some((g) => g.part === "other")).toBe(false);
  expect(grouped.counts.create).toBe(new Set(steps.map((s) => s.urn)).size);
}
