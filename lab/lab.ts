/**
 * `serverpark lab up|status|down`: the local datacenter deployed without the Pulumi CLI.
 *
 * `up` runs the stack's real Pulumi program under Pulumi's mocks (./record.ts), with real
 * generated secrets and certificates kept between runs (./outputs.ts), and applies the
 * recorded `docker:*` resources to the local engine (./applier.ts), keeping what is
 * unchanged and replacing what changed. Everything it makes carries `serverpark.lab=<stack>`,
 * so `status` and `down` find exactly that, with or without the state file (./state.ts).
 * What differs from `pulumi up` is in lab/README.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { DockerApplier, DOCKER_TYPES, type OwnedObject, type ReconcileSummary } from "./applier";
import { docker } from "./docker-cli";
import { OutputStore } from "./outputs";
import { runUnderMocks, valueOf } from "./record";
import { labDir, lockStack, readState, removeState, writeState, type LabState } from "./state";
import { runProgram } from "../components/program";
import type { StackFile } from "../components/spec/load";

/** The label every object of a lab deployment carries: its stack name. */
export const LAB_LABEL = "serverpark.lab";

export interface LabOptions {
  /** The project root (program, images, state). */
  readonly root: string;
  /** Progress lines (stderr in the CLI). */
  readonly progress: (line: string) => void;
}

export interface UpResult {
  readonly state: LabState;
  readonly summary: ReconcileSummary;
  /** Containers with a health check and whether each became healthy. */
  readonly health: { name: string; healthy: boolean; detail?: string }[];
  /** Milliseconds from the start of `up` until every container was healthy (or the wait ended). */
  readonly elapsedMs: number;
}

export class LabInputError extends Error {}

function applierFor(stack: string, root: string, progress?: (line: string) => void): DockerApplier {
  return new DockerApplier({ labels: { [LAB_LABEL]: stack }, cwd: root, ...(progress ? { progress } : {}) });
}

/** A stack the lab can deploy: the Docker target, and no `secure:` config it cannot decrypt. */
export function checkLabStack(file: StackFile): void {
  const target = file.config["serverpark:target"] ?? "docker";
  if (target !== "docker") {
    throw new LabInputError(
      `stack "${file.stack}" has serverpark:target ${JSON.stringify(target)}; the lab deploys only to the local Docker engine (target docker)`,
    );
  }
  const secure = Object.entries(file.config).filter(([, v]) => v !== null && typeof v === "object" && "secure" in (v as object));
  if (secure.length > 0) {
    throw new LabInputError(
      `stack "${file.stack}" has encrypted config (${secure.map(([k]) => k).join(", ")}), which only the Pulumi CLI can decrypt; deploy it with \`pulumi up\``,
    );
  }
}

/** Containers, networks or volumes of these names that exist but are not the lab's (a `pulumi up` deployment?). */
async function foreignObjects(wanted: { kind: string; name: string }[], stack: string): Promise<string[]> {
  const clashes: string[] = [];
  for (const w of wanted) {
    const type = w.kind === "container" ? "container" : w.kind;
    const found = await docker(["inspect", "--type", type, "--format", `{{ index .Config.Labels "${LAB_LABEL}" }}`, w.name], { allowFailure: true });
    if (found.exitCode !== 0) continue;
    const owner = found.stdout.trim();
    if (owner !== stack) clashes.push(`${w.kind} ${w.name}${owner && owner !== "<no value>" ? ` (lab stack ${owner})` : ""}`);
  }
  return clashes;
}

/**
 * The stack's operator certificate, key (0600) and the datacenter CA, as an operator would save
 * them from `pulumi stack output operatorCredentials --show-secrets`: what a management port
 * (contracts/management.ts) admits for reads and changes. Returns the folder.
 */
export function writeOperatorCredentials(root: string, stack: string, creds: { certPem: string; keyPem: string; caPem: string }): string {
  const dir = join(labDir(root), `${stack}-operator`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "operator.crt"), creds.certPem);
  writeFileSync(join(dir, "operator.key"), creds.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, "ca.crt"), creds.caPem);
  return dir;
}

export async function labUp(file: StackFile, options: LabOptions & { readonly healthTimeoutMs: number }): Promise<UpResult> {
  const { root, progress } = options;
  const started = Date.now();
  checkLabStack(file);
  const release = lockStack(root, file.stack);
  try {
    const previous = readState(root, file.stack);
    const store = new OutputStore(previous?.outputs);
    progress(`program: running the ${file.stack} stack's Pulumi program under mocks`);
    // `pulumi up` records the plan's lock file (stacks/Pulumi.<stack>.lock.json); so does the
    // lab for a stack in stacks/. A stack file elsewhere (a test's) is deployed as a preview
    // would be, leaving stacks/ untouched.
    const inStacks = relative(root, file.path) === `stacks/Pulumi.${file.stack}.yaml`;
    const run = await runUnderMocks(async () => runProgram({ root }), { stack: file.stack, config: file.config, preview: !inStacks, outputs: store.source });
    const endpoints = await valueOf(run.exports.datacenter.endpoints);
    const { spec, plan } = run.exports;
    const resources = run.resources.filter((r) => r.type.startsWith("docker:"));
    const count = (type: string) => resources.filter((r) => r.type === type).length;
    progress(
      `program: ${count(DOCKER_TYPES.container)} containers, ${count(DOCKER_TYPES.network)} networks, ${count(DOCKER_TYPES.volume)} volumes, ${count(DOCKER_TYPES.image)} images`,
    );

    const applier = applierFor(file.stack, root, progress);
    const translated = applier.translate(resources); // unsupported inputs fail here, before any change
    const clashes = await foreignObjects(
      [...translated.containers.map((c) => ({ kind: "container", name: c.name })), ...translated.networks.map((n) => ({ kind: "network", name: n.name }))],
      file.stack,
    );
    if (clashes.length > 0) {
      throw new LabInputError(
        `these already exist and were not made by \`serverpark lab up ${file.stack}\`: ${clashes.join(", ")}. ` +
          `Remove that deployment first (\`npm run destroy\` for a \`pulumi up\` one); nothing was changed`,
      );
    }
    const current = await applier.listOwned();
    const summary = await applier.reconcile(resources, current);
    for (const kind of ["volume", "network", "container"] as const) {
      const n = (list: OwnedObject[]) => list.filter((o) => o.kind === kind).length;
      progress(`${kind}s: ${n(summary.created)} created, ${n(summary.replaced)} replaced, ${n(summary.removed)} removed, ${n(summary.unchanged)} unchanged`);
    }
    for (const v of summary.replaced.filter((o) => o.kind === "volume"))
      progress(`WARNING: volume ${v.name} was replaced (its inputs changed); its data is gone`);

    const state: LabState = {
      version: 1,
      stack: file.stack,
      file: relative(root, file.path) || file.path,
      datacenter: spec.name,
      domain: plan.domain,
      deployedAt: new Date().toISOString(),
      objects: await applier.listOwned(),
      endpoints,
      outputs: store.state(),
    };
    writeState(root, state);
    const operator = writeOperatorCredentials(root, file.stack, await valueOf(run.exports.datacenter.operatorCredentials));
    progress(
      `operator: management client certificate in ${relative(root, operator) || operator} (curl --cacert ca.crt --cert operator.crt --key operator.key https://<management address>:9100/…)`,
    );

    const health = await waitAllHealthy(
      applier,
      translated.containers.map((c) => c.name),
      options.healthTimeoutMs,
      progress,
    );
    return { state, summary, health, elapsedMs: Date.now() - started };
  } finally {
    release();
  }
}

/** Waits for every container in parallel, printing how many are healthy as they become so. */
async function waitAllHealthy(applier: DockerApplier, names: readonly string[], timeoutMs: number, progress: (line: string) => void) {
  let healthy = 0;
  const pending = new Set(names);
  return Promise.all(
    names.map(async (name) => {
      try {
        await applier.waitHealthy(name, timeoutMs);
        pending.delete(name);
        healthy++;
        // A line per quarter, then one per container for the last few (the slow ones, named).
        if (pending.size <= 3 || healthy % Math.max(1, Math.ceil(names.length / 4)) === 0) {
          progress(`healthy ${healthy}/${names.length}${pending.size > 0 && pending.size <= 3 ? ` (waiting for ${[...pending].join(", ")})` : ""}`);
        }
        return { name, healthy: true };
      } catch (e) {
        pending.delete(name);
        return { name, healthy: false, detail: (e as Error).message };
      }
    }),
  );
}

export interface ContainerStatus {
  readonly name: string;
  readonly state: string;
  /** healthy | unhealthy | starting | none */
  readonly health: string;
}

export interface StatusResult {
  readonly stack: string;
  readonly deployed: boolean;
  readonly state?: LabState;
  readonly containers: ContainerStatus[];
  readonly networks: string[];
  readonly volumes: string[];
}

export async function labStatus(stack: string, root: string): Promise<StatusResult> {
  const state = readState(root, stack);
  const owned = await applierFor(stack, root).listOwned();
  const names = owned.filter((o) => o.kind === "container").map((o) => o.name);
  const containers: ContainerStatus[] = [];
  if (names.length > 0) {
    const { stdout } = await docker(["inspect", "--type", "container", ...names]);
    for (const c of JSON.parse(stdout) as { Name: string; State: { Status: string; Health?: { Status: string } } }[]) {
      containers.push({ name: c.Name.replace(/^\//, ""), state: c.State.Status, health: c.State.Health?.Status ?? "none" });
    }
  }
  return {
    stack,
    deployed: owned.length > 0,
    ...(state ? { state } : {}),
    containers: containers.sort((a, b) => a.name.localeCompare(b.name)),
    networks: owned.filter((o) => o.kind === "network").map((o) => o.name),
    volumes: owned.filter((o) => o.kind === "volume").map((o) => o.name),
  };
}

export interface DownResult {
  readonly stack: string;
  readonly removed: Record<"container" | "network" | "volume", number>;
  readonly wasDeployed: boolean;
}

/** Removes every container, network and volume labelled with the stack, and its state. */
export async function labDown(stack: string, root: string, progress: (line: string) => void): Promise<DownResult> {
  const release = lockStack(root, stack);
  try {
    const hadState = readState(root, stack) !== undefined;
    const removed = await applierFor(stack, root).removeOwned();
    const total = removed.container + removed.network + removed.volume;
    if (total > 0) progress(`removed ${removed.container} containers, ${removed.network} networks, ${removed.volume} volumes`);
    removeState(root, stack);
    return { stack, removed, wasDeployed: hadState || total > 0 };
  } finally {
    release();
  }
}
