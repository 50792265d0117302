/**
 * Reading `pulumi preview --json` and grouping its resource steps under the datacenter part
 * they belong to (a network, a host, a service and its replicas, the datacenter itself).
 *
 * The input follows the documented preview digest of the Pulumi CLI v3 (`PreviewDigest` in
 * pulumi/pulumi `pkg/display`, as printed by the CLI this project pins, 3.265): `{ config, steps[],
 * diagnostics[], changeSummary, duration }`, each step `{ op, urn, provider, oldState,
 * newState, diffReasons, replaceReasons, detailedDiff }`. Secret values are blinded by the
 * CLI as "[secret]", but nothing here relies on that: only URNs, types, operations, property
 * *names* and the protect flag are ever read for display — never a property value.
 */
import { z } from "zod";
import { parseJsonInput } from "./input";
import type { DatacenterPlan } from "../plan";
import type { DatacenterSpec } from "../spec/schema";

const StateSchema = z
  .looseObject({
    type: z.string().optional(),
    protect: z.boolean().optional(),
    parent: z.string().optional(),
  })
  .nullish();

const StepSchema = z.looseObject({
  op: z.string(),
  urn: z.string(),
  oldState: StateSchema,
  newState: StateSchema,
  diffReasons: z.array(z.string()).nullish(),
  replaceReasons: z.array(z.string()).nullish(),
  detailedDiff: z.record(z.string(), z.looseObject({ kind: z.string().optional() })).nullish(),
});

const DiagnosticSchema = z.looseObject({ urn: z.string().optional(), message: z.string().optional(), severity: z.string().optional() });

export const PreviewSchema = z.looseObject({
  steps: z.array(StepSchema).nullish(),
  diagnostics: z.array(DiagnosticSchema).nullish(),
  changeSummary: z.record(z.string(), z.number()).nullish(),
});

export type PreviewJson = z.output<typeof PreviewSchema>;
export type PreviewStepJson = z.output<typeof StepSchema>;

/** Step operations folded to what a reviewer cares about. */
export type StepKind = "create" | "update" | "replace" | "delete" | "other";

export interface ResourceStep {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly kind: StepKind;
  /** The operations Pulumi reported for this URN, e.g. ["create-replacement", "replace", "delete-replaced"]. */
  readonly ops: readonly string[];
  /** Property names that differ (never their values), sorted. */
  readonly properties: readonly string[];
  /** Property names that force the replacement, sorted. */
  readonly replaceBecause: readonly string[];
  readonly stateful: boolean;
  readonly protect: boolean;
}

export interface PreviewGroup {
  /** `network public`, `host h1`, `service www`, `datacenter fra1`, `stack`. */
  readonly part: string;
  /** Replica id when the resources belong to one replica. */
  readonly steps: readonly ResourceStep[];
}

export interface GroupedPreview {
  readonly groups: readonly PreviewGroup[];
  /** Replacements and deletions of stateful resources: shown first. */
  readonly dataAtRisk: readonly ResourceStep[];
  readonly counts: Readonly<Record<StepKind, number>>;
  /** Errors and warnings the preview reported (messages as given; see `redact`). */
  readonly diagnostics: readonly { readonly severity: string; readonly urn?: string; readonly message: string }[];
}

/** Parses the text `pulumi preview --json` printed; explains what is wrong when it is not a preview. */
export function parsePreview(text: string, where = "preview JSON"): PreviewJson {
  return parseJsonInput(PreviewSchema, text, where, "`pulumi preview --json`");
}

/** `urn:pulumi:stack::project::parent$type::name` → type and name. Names may contain `::`. */
export function splitUrn(urn: string): { type: string; name: string } {
  const parts = urn.split("::");
  const qualified = parts[2] ?? "";
  return { type: qualified.split("$").pop() ?? qualified, name: parts.slice(3).join("::") };
}

/**
 * Resource types that hold data a replacement or deletion destroys: volumes and disks of any
 * provider (the replicas of stateful roles keep their data there; containers and servers are
 * disposable), and generated secrets (a new CA key or password breaks everything that trusted
 * the old one).
 */
const DATA_TYPES = [/:\w*(Volume|Disk)$/, /^random:index\/random\w+:Random\w+$/, /^tls:index\/privateKey:PrivateKey$/];

/** Where a resource name belongs, from the naming scheme of the `Datacenter` component. */
export interface PartNames {
  readonly datacenter: string;
  readonly services: readonly string[];
  readonly hosts: readonly string[];
  readonly networks: readonly string[];
}

/** The part names of both sides together, so resources of removed parts still find their part. */
export function partNames(sides: readonly ({ readonly spec: DatacenterSpec; readonly plan: DatacenterPlan } | undefined)[]): PartNames {
  const present = sides.filter((s) => s !== undefined);
  const ids = (f: (s: (typeof present)[number]) => readonly string[]) => [...new Set(present.flatMap(f))];
  return {
    datacenter: present[present.length - 1]?.spec.name ?? "",
    services: ids((s) => s.spec.services.map((x) => x.id)),
    hosts: ids((s) => s.spec.hosts.map((x) => x.id)),
    networks: ids((s) => s.spec.networks.map((x) => x.id)),
  };
}

/**
 * Resolves a resource name to its datacenter part. Child names derive from the parent's
 * (`fra1-svc-www-0`, `fra1-host-h1-agent`, `fra1-net-public`), and ids may contain `-`, so
 * the longest known id that matches wins.
 */
export function partOf(name: string, names: PartNames): { part: string; replica?: string } {
  const dc = names.datacenter;
  const match = (prefix: string, ids: readonly string[]) => {
    if (!name.startsWith(prefix)) return undefined;
    const rest = name.slice(prefix.length);
    return [...ids].sort((a, b) => b.length - a.length).find((id) => rest === id || rest.startsWith(`${id}-`));
  };
  const svc = match(`${dc}-svc-`, names.services);
  if (svc !== undefined) {
    const index = /^-(\d+)(?:-|$)/.exec(name.slice(`${dc}-svc-${svc}`.length))?.[1];
    return { part: `service ${svc}`, ...(index !== undefined ? { replica: `${svc}-${index}` } : {}) };
  }
  const host = match(`${dc}-host-`, names.hosts);
  if (host !== undefined) return { part: `host ${host}` };
  const net = match(`${dc}-net-`, names.networks);
  if (net !== undefined) return { part: `network ${net}` };
  if (name === dc || name.startsWith(`${dc}-`)) return { part: `datacenter ${dc}` };
  return { part: "other" };
}

function kindOf(ops: readonly string[]): StepKind {
  if (ops.some((o) => o === "replace" || o === "create-replacement" || o === "delete-replaced" || o === "import-replacement")) return "replace";
  if (ops.includes("delete") || ops.includes("discard")) return "delete";
  if (ops.includes("create") || ops.includes("import")) return "create";
  if (ops.includes("update")) return "update";
  return "other";
}

/** Groups the steps that change something ("same" and "read" steps are left out). */
export function groupPreview(preview: PreviewJson, names: PartNames): GroupedPreview {
  const byUrn = new Map<string, PreviewStepJson[]>();
  for (const step of preview.steps ?? []) {
    if (step.op === "same" || step.op === "read" || step.op === "refresh") continue;
    const list = byUrn.get(step.urn) ?? [];
    list.push(step);
    byUrn.set(step.urn, list);
  }
  const steps: (ResourceStep & { part: string })[] = [];
  for (const [urn, list] of byUrn) {
    const { type, name } = splitUrn(urn);
    if (type === "pulumi:pulumi:Stack") continue;
    const ops = [...new Set(list.map((s) => s.op))].sort();
    const properties = new Set<string>();
    const replaceBecause = new Set<string>();
    for (const s of list) {
      for (const p of s.diffReasons ?? []) properties.add(p);
      for (const p of Object.keys(s.detailedDiff ?? {})) properties.add(p);
      for (const p of s.replaceReasons ?? []) replaceBecause.add(p);
    }
    const where = partOf(name, names);
    steps.push({
      urn,
      type,
      name,
      kind: kindOf(ops),
      ops,
      properties: [...properties].sort(),
      replaceBecause: [...replaceBecause].sort(),
      stateful: DATA_TYPES.some((re) => re.test(type)),
      protect: list.some((s) => s.oldState?.protect === true || s.newState?.protect === true),
      part: where.part,
    });
  }
  steps.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  const partOrder = (p: string) =>
    p.startsWith("datacenter ") ? 0 : p.startsWith("network ") ? 1 : p.startsWith("host ") ? 2 : p.startsWith("service ") ? 3 : 4;
  const parts = [...new Set(steps.map((s) => s.part))].sort((a, b) => partOrder(a) - partOrder(b) || a.localeCompare(b));
  const counts: Record<StepKind, number> = { create: 0, update: 0, replace: 0, delete: 0, other: 0 };
  for (const s of steps) counts[s.kind]++;
  const strip = ({ part: _part, ...rest }: ResourceStep & { part: string }): ResourceStep => rest;
  return {
    groups: parts.map((part) => ({ part, steps: steps.filter((s) => s.part === part).map(strip) })),
    dataAtRisk: steps.filter((s) => s.stateful && (s.kind === "replace" || s.kind === "delete")).map(strip),
    counts,
    diagnostics: (preview.diagnostics ?? [])
      .filter((d) => d.severity === "error" || d.severity === "warning")
      .map((d) => ({ severity: d.severity!, ...(d.urn ? { urn: d.urn } : {}), message: (d.message ?? "").trim() })),
  };
}
