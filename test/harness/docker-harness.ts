/**
 * TEST TOOL — not a deployment path. Users deploy with `pulumi up`; this exists
 * because the Pulumi CLI and its provider plugins cannot be fetched here.
 *
 * Applies Docker resources recorded under Pulumi mocks (type, name and resolved
 * inputs, exactly what @pulumi/docker 5 would receive) to the real local engine, so
 * end-to-end tests run the datacenter's real containers on its real networks. It
 * follows the provider's documented input semantics (see container-args.ts and
 * resource-args.ts) and refuses inputs it cannot apply faithfully.
 *
 * Everything it creates carries `serverpark.harness-run=<runId>` (and the owning
 * pid), so destroy() removes exactly one run's containers, networks and volumes
 * (images stay, for speed), and sweepStale() removes leftovers of crashed runs.
 */
import { randomBytes } from "node:crypto";
import { docker, dockerLines, type DockerResult } from "./docker-cli";
import { planContainer, type ContainerPlan, type Upload } from "./container-args";
import { CONTEXT_HASH_LABEL, imageBuild, networkCreateArgs, volumeCreateArgs } from "./resource-args";
import { tarOf } from "./tar";

export interface RecordedResource {
  /** Pulumi type token, e.g. "docker:index/container:Container". */
  readonly type: string;
  /** Pulumi resource name (for messages; Docker names come from the inputs). */
  readonly name: string;
  readonly inputs: Record<string, any>;
}

export interface HarnessOptions {
  /** Working directory the Pulumi program ran in (relative build paths). @default process.cwd() */
  readonly cwd?: string;
  /** See PlanOptions.portBindIp. @default "127.0.0.1" (tests expose nothing beyond this machine) */
  readonly portBindIp?: string;
  /** Print each docker step. @default process.env.SP_HARNESS_VERBOSE === "1" */
  readonly verbose?: boolean;
}

export const RUN_LABEL = "serverpark.harness-run";
export const PID_LABEL = "serverpark.harness-pid";

const TYPES = {
  volume: "docker:index/volume:Volume",
  network: "docker:index/network:Network",
  image: "docker:index/image:Image",
  container: "docker:index/container:Container",
} as const;

export class DockerHarness {
  readonly runId = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  private readonly labels: Record<string, string>;
  private readonly cwd: string;
  private readonly portBindIp: string | undefined;
  private readonly verbose: boolean;

  constructor(options: HarnessOptions = {}) {
    this.labels = { [RUN_LABEL]: this.runId, [PID_LABEL]: String(process.pid) };
    this.cwd = options.cwd ?? process.cwd();
    this.portBindIp = "portBindIp" in options ? options.portBindIp : "127.0.0.1";
    this.verbose = options.verbose ?? process.env.SP_HARNESS_VERBOSE === "1";
  }

  /**
   * Creates the resources in dependency order (volumes, networks, images, then
   * containers in the order given). Unsupported types or inputs fail before anything
   * is created.
   */
  async apply(resources: readonly RecordedResource[]): Promise<void> {
    const known = new Set<string>(Object.values(TYPES));
    const unknownTypes = resources.filter((r) => !known.has(r.type));
    if (unknownTypes.length > 0) {
      throw new Error(`docker harness cannot apply ${unknownTypes.map((r) => `${r.type} "${r.name}"`).join(", ")}`);
    }
    const of = (type: string) => resources.filter((r) => r.type === type);
    // Translate everything first: an unsupported input fails before any side effect.
    const volumes = of(TYPES.volume).map((r) => volumeCreateArgs(r.inputs, this.labels));
    const networks = of(TYPES.network).map((r) => networkCreateArgs(r.inputs, this.labels));
    const images = of(TYPES.image).map((r) => imageBuild(r.inputs, this.cwd));
    const containers = of(TYPES.container).map((r) => planContainer(r.inputs, { labels: this.labels, portBindIp: this.portBindIp }));

    const declaredVolumes = new Set(of(TYPES.volume).map((r) => String(r.inputs.name)));
    for (const args of volumes) await this.run(["volume", "create", ...args]);
    // Docker would create an undeclared named volume on first use, unlabelled; create
    // it here with the run label so destroy() finds it.
    for (const name of new Set(containers.flatMap((c) => c.namedVolumes))) {
      if (!declaredVolumes.has(name)) await this.run(["volume", "create", ...labelFlags(this.labels), name]);
    }
    for (const args of networks) await this.run(["network", "create", ...args]);
    for (const build of images) await this.buildImage(build);
    for (const plan of containers) await this.createContainer(plan);
  }

  /** Images this harness actually built (not the ones it found up to date), in order. */
  readonly built: string[] = [];

  private async buildImage(build: ReturnType<typeof imageBuild>): Promise<void> {
    const have = await docker(["image", "inspect", "--format", `{{ index .Config.Labels "${CONTEXT_HASH_LABEL}" }}`, build.imageName], { allowFailure: true });
    if (have.exitCode === 0 && have.stdout.trim() === build.hash) {
      this.log(`image ${build.imageName} up to date (${build.hash})`);
      return;
    }
    // DOCKER_BUILDKIT=0: the legacy builder; buildx is not installed on these machines.
    await this.run(["build", "--quiet", ...build.args], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 600_000 });
    this.built.push(build.imageName);
  }

  private async createContainer(plan: ContainerPlan): Promise<void> {
    const image = await docker(["image", "inspect", "--format", "{{.Id}}", plan.image], { allowFailure: true });
    if (image.exitCode !== 0) {
      throw new Error(`container "${plan.name}": image "${plan.image}" does not exist locally (no registry to pull from); build it with a docker.Image first`);
    }
    await this.run(["create", ...plan.createArgs]);
    for (const connect of plan.connects) await this.run(["network", "connect", ...connect]);
    for (const upload of plan.uploads) await this.upload(plan.name, upload);
    if (!plan.start) return;
    await this.run(["start", plan.name]);
    if (plan.waitHealthyMs !== undefined) await this.waitHealthy(plan.name, plan.waitHealthyMs);
  }

  private async upload(container: string, upload: Upload): Promise<void> {
    const tar = tarOf(upload.file.replace(/^\/+/, ""), upload.content, upload.mode);
    await this.run(["cp", "-", `${container}:/`], { input: tar });
  }

  /** Removes every container, network and volume of this run. Images are kept. */
  async destroy(): Promise<void> {
    await removeLabelled(`${RUN_LABEL}=${this.runId}`, () => true);
  }

  /** Removes what earlier runs left behind when their process is gone (never a live run's). */
  async sweepStale(): Promise<void> {
    await removeLabelled(RUN_LABEL, (run, pid) => run !== this.runId && !processAlive(pid));
  }

  /** Waits until Docker reports the container healthy; fails early when it exits, with its last logs. */
  async waitHealthy(container: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = (await this.inspect(container, "container")).State as {
        Status: string;
        ExitCode: number;
        Health?: { Status: string; Log?: { Output: string }[] };
      };
      if (!state.Health) throw new Error(`container "${container}" has no healthcheck to wait for`);
      if (state.Health.Status === "healthy") return;
      const exited = state.Status !== "running" && state.Status !== "created";
      if (exited || Date.now() > deadline) {
        const lastCheck = state.Health.Log?.at(-1)?.Output.trim() ?? "(no check ran yet)";
        const logs = await docker(["logs", "--tail", "30", container], { allowFailure: true });
        throw new Error(
          `container "${container}" ${exited ? `is ${state.Status} (exit ${state.ExitCode})` : `not healthy after ${timeoutMs} ms (health: ${state.Health.Status})`}\n` +
            `last health check: ${lastCheck}\nlast logs:\n${(logs.stdout + logs.stderr).trim()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Runs argv in the container (no shell unless argv asks for one). Never throws on a non-zero exit. */
  exec(container: string, argv: readonly string[], options: { user?: string } = {}): Promise<DockerResult> {
    const user = options.user ? ["--user", options.user] : [];
    return docker(["exec", ...user, container, ...argv], { allowFailure: true });
  }

  /** `docker inspect` of one object, parsed. */
  async inspect(name: string, type?: "container" | "network" | "volume" | "image"): Promise<Record<string, unknown>> {
    const { stdout } = await docker(["inspect", ...(type ? ["--type", type] : []), name]);
    const [object] = JSON.parse(stdout) as Record<string, unknown>[];
    if (!object) throw new Error(`docker inspect ${name}: nothing found`);
    return object;
  }

  private async run(args: string[], options: Parameters<typeof docker>[1] = {}): Promise<DockerResult> {
    this.log(`docker ${args.join(" ")}`);
    return docker(args, options);
  }

  private log(line: string): void {
    if (this.verbose) console.log(`[harness ${this.runId}] ${line}`);
  }
}

function labelFlags(labels: Record<string, string>): string[] {
  return Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Containers first (they hold networks and volumes), then networks, then volumes. */
async function removeLabelled(filter: string, select: (run: string, pid: number) => boolean): Promise<void> {
  const kinds = [
    { list: ["ps", "-a"], name: "{{.Names}}", remove: ["rm", "-f", "-v"] },
    { list: ["network", "ls"], name: "{{.Name}}", remove: ["network", "rm"] },
    { list: ["volume", "ls"], name: "{{.Name}}", remove: ["volume", "rm", "-f"] },
  ];
  for (const kind of kinds) {
    const format = `${kind.name}\t{{.Label "${RUN_LABEL}"}}\t{{.Label "${PID_LABEL}"}}`;
    const rows = await dockerLines([...kind.list, "--filter", `label=${filter}`, "--format", format]);
    const names = rows
      .map((row) => row.split("\t"))
      .filter(([, run, pid]) => select(run ?? "", Number(pid)))
      .map(([name]) => name!);
    if (names.length > 0) await docker([...kind.remove, ...names]);
  }
}
