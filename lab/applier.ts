/**
 * The offline applier: applies Docker resources recorded under Pulumi's mocks (type, name
 * and resolved inputs, exactly what @pulumi/docker 5 would receive) to the real local
 * engine. `serverpark lab up` deploys with it when the Pulumi CLI cannot be had, and the
 * end-to-end tests boot their datacenter with it. It follows the provider's documented
 * input semantics (container-args.ts, resource-args.ts) and refuses inputs it cannot apply
 * faithfully, before creating anything.
 *
 * Everything it creates carries the owner labels it was given (a lab stack, or a test
 * run). `reconcile()` is the diff a second `lab up` needs: every object also carries a
 * fingerprint of what it was created from (for a container: its arguments, uploads and the
 * image id it runs), so an unchanged object is kept, a changed one is replaced (with every
 * container on a replaced network or volume), and one no longer declared is removed.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { docker, dockerLines, type DockerResult } from "./docker-cli";
import { planContainer, type ContainerPlan, type Upload } from "./container-args";
import { CONTEXT_HASH_LABEL, imageBuild, networkCreateArgs, volumeCreateArgs, type ImageBuild } from "./resource-args";
import { tarOf } from "./tar";

export interface RecordedResource {
  /** Pulumi type token, e.g. "docker:index/container:Container". */
  readonly type: string;
  /** Pulumi resource name (for messages; Docker names come from the inputs). */
  readonly name: string;
  readonly inputs: Record<string, any>;
}

export interface ApplierOptions {
  /** Labels put on every container, network and volume created (who owns it). */
  readonly labels: Readonly<Record<string, string>>;
  /** Working directory the Pulumi program ran in (relative build paths). @default process.cwd() */
  readonly cwd?: string;
  /** See PlanOptions.portBindIp. @default "127.0.0.1" (nothing is published beyond this machine) */
  readonly portBindIp?: string;
  /** Print each docker command. @default process.env.SP_HARNESS_VERBOSE === "1" */
  readonly verbose?: boolean;
  /** Progress per step (`images 3/10 …`); the lab prints it, tests leave it out. */
  readonly progress?: (line: string) => void;
}

/** The label holding what an object was created from (see reconcile()). */
export const FINGERPRINT_LABEL = "serverpark.fingerprint";

export const DOCKER_TYPES = {
  volume: "docker:index/volume:Volume",
  network: "docker:index/network:Network",
  image: "docker:index/image:Image",
  container: "docker:index/container:Container",
} as const;

export type ObjectKind = "container" | "network" | "volume";

/** An object of the engine that carries the owner labels. */
export interface OwnedObject {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly fingerprint: string;
}

/** What reconcile() did, per kind. */
export interface ReconcileSummary {
  readonly created: OwnedObject[];
  readonly replaced: OwnedObject[];
  readonly removed: OwnedObject[];
  readonly unchanged: OwnedObject[];
  /** Stopped containers that were declared unchanged and were started again. */
  readonly restarted: string[];
  /** Images built in this run (not the ones found up to date). */
  readonly built: string[];
}

interface Translated {
  readonly volumes: { name: string; args: string[] }[];
  readonly networks: { name: string; args: string[] }[];
  readonly images: ImageBuild[];
  readonly containers: ContainerPlan[];
}

export class DockerApplier {
  protected readonly labels: Readonly<Record<string, string>>;
  private readonly cwd: string;
  private readonly portBindIp: string | undefined;
  private readonly verbose: boolean;
  private readonly progress: (line: string) => void;

  constructor(options: ApplierOptions) {
    this.labels = options.labels;
    this.cwd = options.cwd ?? process.cwd();
    this.portBindIp = "portBindIp" in options ? options.portBindIp : "127.0.0.1";
    this.verbose = options.verbose ?? process.env.SP_HARNESS_VERBOSE === "1";
    this.progress = options.progress ?? (() => {});
  }

  /** Images this applier actually built (not the ones it found up to date), in order. */
  readonly built: string[] = [];

  /**
   * Translates every resource to docker arguments; an unsupported type or input throws
   * before anything is touched.
   */
  translate(resources: readonly RecordedResource[]): Translated {
    const known = new Set<string>(Object.values(DOCKER_TYPES));
    const unknownTypes = resources.filter((r) => !known.has(r.type));
    if (unknownTypes.length > 0) {
      throw new Error(`the offline applier cannot apply ${unknownTypes.map((r) => `${r.type} "${r.name}"`).join(", ")}`);
    }
    const of = (type: string) => resources.filter((r) => r.type === type);
    const containers = of(DOCKER_TYPES.container).map((r) => planContainer(r.inputs, { labels: this.labels, portBindIp: this.portBindIp }));
    const declared = new Set(of(DOCKER_TYPES.volume).map((r) => String(r.inputs.name)));
    // Docker would create an undeclared named volume on first use, unlabelled; create it
    // with the owner labels so removal finds it.
    const implicit = [...new Set(containers.flatMap((c) => c.namedVolumes))].filter((n) => !declared.has(n));
    return {
      volumes: [
        ...of(DOCKER_TYPES.volume).map((r) => ({ name: String(r.inputs.name), args: volumeCreateArgs(r.inputs, this.labels) })),
        ...implicit.map((name) => ({ name, args: [...labelFlags(this.labels), name] })),
      ],
      networks: of(DOCKER_TYPES.network).map((r) => ({ name: String(r.inputs.name), args: networkCreateArgs(r.inputs, this.labels) })),
      images: of(DOCKER_TYPES.image).map((r) => imageBuild(r.inputs, this.cwd)),
      containers,
    };
  }

  /** Creates every resource from nothing: volumes, networks, images, then containers in the order given. */
  async apply(resources: readonly RecordedResource[]): Promise<void> {
    const t = this.translate(resources);
    for (const v of t.volumes) await this.run(["volume", "create", ...v.args]);
    for (const n of t.networks) await this.run(["network", "create", ...n.args]);
    await this.buildImages(t.images);
    for (const plan of t.containers) await this.createContainer(plan, []);
  }

  /**
   * Brings the engine to the recorded resources, given what it holds now with the owner
   * labels (see listOwned()): keeps what is unchanged, replaces what changed, removes what
   * is no longer declared. Volumes are replaced only when their own inputs change (their
   * data goes with them, as with the Pulumi provider).
   */
  async reconcile(resources: readonly RecordedResource[], current: readonly OwnedObject[]): Promise<ReconcileSummary> {
    const t = this.translate(resources);
    const built = await this.buildImages(t.images);
    const imageIds = new Map<string, string>();
    for (const image of new Set(t.containers.map((c) => c.image))) imageIds.set(image, await this.imageId(image));

    const want = [
      ...t.volumes.map((v) => ({ kind: "volume" as const, name: v.name, fingerprint: fingerprint(v.args), args: v.args })),
      ...t.networks.map((n) => ({ kind: "network" as const, name: n.name, fingerprint: fingerprint(n.args), args: n.args })),
    ];
    const have = new Map(current.map((o) => [`${o.kind}/${o.name}`, o]));
    const changed = (o: { kind: ObjectKind; name: string; fingerprint: string }) => have.get(`${o.kind}/${o.name}`)?.fingerprint !== o.fingerprint;
    const replacedShared = new Set(want.filter((o) => have.has(`${o.kind}/${o.name}`) && changed(o)).map((o) => `${o.kind}/${o.name}`));
    const containers = t.containers.map((plan) => {
      const print = containerFingerprint(plan, imageIds.get(plan.image)!);
      const onReplaced = plan.networks.some((n) => replacedShared.has(`network/${n}`)) || plan.namedVolumes.some((v) => replacedShared.has(`volume/${v}`));
      return {
        kind: "container" as const,
        name: plan.name,
        fingerprint: print,
        plan,
        recreate: onReplaced || changed({ kind: "container", name: plan.name, fingerprint: print }),
      };
    });

    const wanted = new Set([...want, ...containers].map((o) => `${o.kind}/${o.name}`));
    const removed = current.filter((o) => !wanted.has(`${o.kind}/${o.name}`));
    const summary: ReconcileSummary = { created: [], replaced: [], removed, unchanged: [], restarted: [], built };
    const note = (o: OwnedObject, recreate: boolean) => {
      const { kind, name, fingerprint: fp } = o;
      if (!have.has(`${kind}/${name}`)) summary.created.push({ kind, name, fingerprint: fp });
      else if (recreate) summary.replaced.push({ kind, name, fingerprint: fp });
      else summary.unchanged.push({ kind, name, fingerprint: fp });
    };

    // Tear down first: containers hold networks and volumes.
    const goingContainers = [
      ...removed.filter((o) => o.kind === "container").map((o) => o.name),
      ...containers.filter((c) => c.recreate && have.has(`container/${c.name}`)).map((c) => c.name),
    ];
    if (goingContainers.length > 0) await this.run(["rm", "-f", "-v", ...goingContainers]);
    for (const kind of ["network", "volume"] as const) {
      const going = [
        ...removed.filter((o) => o.kind === kind).map((o) => o.name),
        ...want.filter((o) => o.kind === kind && replacedShared.has(`${kind}/${o.name}`)).map((o) => o.name),
      ];
      if (going.length > 0) await this.run(kind === "network" ? ["network", "rm", ...going] : ["volume", "rm", "-f", ...going]);
    }

    for (const o of want) {
      const recreate = changed(o);
      note(o, recreate);
      if (recreate) await this.run([o.kind, "create", "--label", `${FINGERPRINT_LABEL}=${o.fingerprint}`, ...o.args]);
    }
    let done = 0;
    for (const c of containers) {
      note(c, c.recreate);
      this.progress(
        `containers ${++done}/${containers.length}: ${c.name} ${c.recreate ? (have.has(`container/${c.name}`) ? "replaced" : "created") : "unchanged"}`,
      );
      if (c.recreate) await this.createContainer(c.plan, ["--label", `${FINGERPRINT_LABEL}=${c.fingerprint}`]);
      else if (c.plan.start && !(await this.running(c.name))) {
        await this.run(["start", c.name]);
        summary.restarted.push(c.name);
      }
    }
    return summary;
  }

  /** Containers, networks and volumes that carry every owner label, with their fingerprints. */
  async listOwned(): Promise<OwnedObject[]> {
    const filters = Object.entries(this.labels).flatMap(([k, v]) => ["--filter", `label=${k}=${v}`]);
    const kinds = [
      { kind: "container" as const, list: ["ps", "-a"], name: "{{.Names}}" },
      { kind: "network" as const, list: ["network", "ls"], name: "{{.Name}}" },
      { kind: "volume" as const, list: ["volume", "ls"], name: "{{.Name}}" },
    ];
    const out: OwnedObject[] = [];
    for (const k of kinds) {
      for (const row of await dockerLines([...k.list, ...filters, "--format", `${k.name}\t{{.Label "${FINGERPRINT_LABEL}"}}`])) {
        const [name, print] = row.split("\t");
        out.push({ kind: k.kind, name: name!, fingerprint: print && print !== "<no value>" ? print : "" });
      }
    }
    return out;
  }

  /** Removes every container, network and volume carrying the owner labels; returns how many of each. */
  async removeOwned(): Promise<Record<ObjectKind, number>> {
    const owned = await this.listOwned();
    const counts = { container: 0, network: 0, volume: 0 };
    for (const kind of ["container", "network", "volume"] as const) {
      const names = owned.filter((o) => o.kind === kind).map((o) => o.name);
      counts[kind] = names.length;
      if (names.length === 0) continue;
      await this.run(kind === "container" ? ["rm", "-f", "-v", ...names] : kind === "network" ? ["network", "rm", ...names] : ["volume", "rm", "-f", ...names]);
    }
    return counts;
  }

  private async buildImages(images: readonly ImageBuild[]): Promise<string[]> {
    const built: string[] = [];
    let done = 0;
    for (const given of images) {
      const build = await this.withBaseImages(given);
      const have = await docker(["image", "inspect", "--format", `{{ index .Config.Labels "${CONTEXT_HASH_LABEL}" }}`, build.imageName], {
        allowFailure: true,
      });
      if (have.exitCode === 0 && have.stdout.trim() === build.hash) {
        this.log(`image ${build.imageName} up to date (${build.hash})`);
        this.progress(`images ${++done}/${images.length}: ${build.imageName} up to date`);
        continue;
      }
      this.progress(`images ${done + 1}/${images.length}: building ${build.imageName}`);
      // DOCKER_BUILDKIT=0: the legacy builder; buildx is not installed on these machines.
      await this.run(["build", "--quiet", ...build.args], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 600_000 });
      this.built.push(build.imageName);
      built.push(build.imageName);
      this.progress(`images ${++done}/${images.length}: built ${build.imageName}`);
    }
    return built;
  }

  /**
   * The build's hash extended with the ids of the images its Dockerfile starts FROM, so a
   * new base image (say, after a Node update) rebuilds every image on it.
   */
  private async withBaseImages(build: ImageBuild): Promise<ImageBuild> {
    const ids: string[] = [];
    for (const base of baseImages(readFileSync(build.dockerfile, "utf8"))) {
      const found = await docker(["image", "inspect", "--format", "{{.Id}}", base], { allowFailure: true });
      ids.push(found.exitCode === 0 ? found.stdout.trim() : `absent:${base}`);
    }
    const hash = createHash("sha256")
      .update(`${build.hash}\0${ids.join("\0")}`)
      .digest("hex")
      .slice(0, 24);
    const label = `${CONTEXT_HASH_LABEL}=${build.hash}`;
    return { ...build, hash, args: build.args.map((a) => (a === label ? `${CONTEXT_HASH_LABEL}=${hash}` : a)) };
  }

  private async imageId(image: string): Promise<string> {
    const found = await docker(["image", "inspect", "--format", "{{.Id}}", image], { allowFailure: true });
    if (found.exitCode !== 0) {
      throw new Error(`image "${image}" does not exist locally (no registry to pull from); build it with a docker.Image first`);
    }
    return found.stdout.trim();
  }

  private async createContainer(plan: ContainerPlan, extraArgs: readonly string[]): Promise<void> {
    try {
      await this.imageId(plan.image);
    } catch (e) {
      throw new Error(`container "${plan.name}": ${(e as Error).message}`);
    }
    await this.run(["create", ...extraArgs, ...plan.createArgs]);
    for (const connect of plan.connects) await this.run(["network", "connect", ...connect]);
    for (const upload of plan.uploads) await this.upload(plan.name, upload);
    if (!plan.start) return;
    await this.run(["start", plan.name]);
    if (plan.waitHealthyMs !== undefined) await this.waitHealthy(plan.name, plan.waitHealthyMs);
  }

  private async running(container: string): Promise<boolean> {
    const state = await docker(["inspect", "--type", "container", "--format", "{{.State.Running}}", container], { allowFailure: true });
    return state.stdout.trim() === "true";
  }

  private async upload(container: string, upload: Upload): Promise<void> {
    const tar = tarOf(upload.file.replace(/^\/+/, ""), upload.content, upload.mode);
    await this.run(["cp", "-", `${container}:/`], { input: tar });
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

  protected async run(args: string[], options: Parameters<typeof docker>[1] = {}): Promise<DockerResult> {
    this.log(`docker ${args.join(" ")}`);
    return docker(args, options);
  }

  private log(line: string): void {
    if (this.verbose) console.log(`[applier] ${line}`);
  }
}

export function labelFlags(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
}

/** The images a Dockerfile builds FROM (not its own earlier stages; `scratch` is no image). */
export function baseImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const line of dockerfile.split("\n")) {
    const m = /^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!m) continue;
    const image = m[1]!;
    if (!stages.has(image.toLowerCase()) && image !== "scratch") bases.push(image);
    if (m[2]) stages.add(m[2].toLowerCase());
  }
  return [...new Set(bases)];
}

function fingerprint(args: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(args)).digest("hex").slice(0, 16);
}

/** What a container was made from: its create and connect arguments, uploads and the image id. */
export function containerFingerprint(plan: ContainerPlan, imageId: string): string {
  const hash = createHash("sha256").update(JSON.stringify([plan.createArgs, plan.connects, plan.start, imageId]));
  for (const u of plan.uploads) hash.update(`\0${u.file}\0${u.mode}\0`).update(u.content);
  return hash.digest("hex").slice(0, 16);
}
