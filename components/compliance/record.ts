/**
 * Runs the Serverpark program under Pulumi's mocks and records every resource the way the
 * engine would hand it to a CrossGuard analyzer: the serialized inputs (secrets still marked,
 * unknowns as Pulumi's unknown sentinel), the options (protect, parent, dependencies, …), the
 * URN, the provider, and the outputs the stack policies see — for component resources, what
 * they passed to `registerOutputs` (so the `Datacenter`'s `model`).
 *
 * Why not `pulumi.runtime.setMocks` alone: its `newResource` hook receives only the type, name,
 * already-deserialized inputs and provider. The options live on the `RegisterResourceRequest`,
 * so we wrap the mock monitor's `registerResource` and read the request itself.
 *
 * Mocks are process-global: call `recordStack` once per process (each vitest file is one).
 */
import * as pulumi from "@pulumi/pulumi";

/** A serialized property bag: JSON with Pulumi's special signatures (secrets, assets) and the unknown sentinel. */
export type SerializedProps = Record<string, unknown>;

export interface RecordedOptions {
  readonly protect: boolean;
  readonly ignoreChanges: string[];
  readonly deleteBeforeReplace?: boolean;
  readonly aliases: string[];
  readonly customTimeouts: { createSeconds: number; updateSeconds: number; deleteSeconds: number };
  readonly additionalSecretOutputs: string[];
  readonly parent?: string;
}

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly custom: boolean;
  /** Inputs as the engine sends them to `Analyze`. */
  readonly inputs: SerializedProps;
  /** Outputs as the engine sends them to `AnalyzeStack` (components: their registered outputs). */
  outputs: SerializedProps;
  readonly options: RecordedOptions;
  readonly provider?: { readonly type: string; readonly name: string; readonly urn: string };
  readonly dependencies: string[];
  readonly propertyDependencies: Record<string, string[]>;
}

export interface RecordedStack {
  readonly project: string;
  readonly stack: string;
  readonly resources: RecordedResource[];
}

export interface RecordOptions {
  readonly project?: string;
  readonly stack: string;
  /** Stack config with project prefixes; values as in the stack file (`{secure: …}` entries become secrets). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Values for `secure:` config entries (the ciphertext cannot be read here). @default "[secret]" for each */
  readonly secrets?: Readonly<Record<string, string>>;
  /**
   * Outputs the providers computed in an earlier `up` (a stack that exists), by resource; without
   * it every computed output is unknown, as in the preview of a new stack.
   */
  readonly computed?: (type: string, name: string) => Record<string, unknown> | undefined;
}

/** Go-style durations (`5m`, `1h30m`, `20s`) as the engine parses custom timeouts. */
function seconds(duration: string | undefined): number {
  if (!duration) return 0;
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms)/g))
    total += Number(n) * ({ h: 3600, m: 60, s: 1, ms: 0.001 } as Record<string, number>)[unit!]!;
  return total;
}

// Minimal views of the protobuf request and the mock monitor (both internal to @pulumi/pulumi).
interface Struct {
  toJavaScript(): SerializedProps;
}
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getParent(): string;
  getObject(): Struct | undefined;
  getProtect(): boolean | undefined;
  getIgnorechangesList(): string[];
  getDeletebeforereplace(): boolean;
  getDeletebeforereplacedefined(): boolean;
  getAliasurnsList(): string[];
  getCustomtimeouts(): { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
  getAdditionalsecretoutputsList(): string[];
  getProvider(): string;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(cb: (deps: { getUrnsList(): string[] }, key: string) => void): void };
}
interface MonitorLike {
  registerResource(req: RegisterRequest, cb: (err: unknown, res?: { getUrn(): string }) => void): void;
  registerResourceOutputs(req: { getUrn(): string; getOutputs(): Struct | undefined }, cb: (err: unknown, res?: unknown) => void): void;
  getRegisteredResources(): Map<string, { state: SerializedProps | Struct }>;
}

const ROOT_TYPE = "pulumi:pulumi:Stack";

export async function recordStack(run: () => unknown | Promise<unknown>, options: RecordOptions): Promise<RecordedStack> {
  const project = options.project ?? "serverpark";
  const { stack } = options;
  const rootUrn = `urn:pulumi:${stack}::${project}::${ROOT_TYPE}::${project}-${stack}`;
  const resources: RecordedResource[] = [
    {
      type: ROOT_TYPE,
      name: `${project}-${stack}`,
      urn: rootUrn,
      custom: false,
      inputs: {},
      outputs: {},
      options: emptyOptions(),
      dependencies: [],
      propertyDependencies: {},
    },
  ];

  await pulumi.runtime.setMocks(
    {
      // Providers compute nothing here: the state is the inputs, as in a preview of new resources.
      newResource: (args) => ({
        id: args.type.startsWith("hcloud:") ? String(1000 + resources.length) : `${args.name}-id`,
        state: { ...args.inputs, ...options.computed?.(args.type, args.name) },
      }),
      call: (args) => args.inputs,
    },
    project,
    stack,
    true,
  );
  const settings = require("@pulumi/pulumi/runtime/settings") as { getMonitor(): MonitorLike };
  const monitor = settings.getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, res) => {
      if (!err && res) resources.push(fromRequest(req, res.getUrn(), rootUrn, stack, project));
      cb(err, res);
    });

  const secretKeys = Object.entries(options.config)
    .filter(([, v]) => v !== null && typeof v === "object" && "secure" in (v as object))
    .map(([k]) => k);
  const config = Object.fromEntries(
    Object.entries(options.config).map(([k, v]) => [
      k,
      secretKeys.includes(k) ? (options.secrets?.[k] ?? "[secret]") : typeof v === "string" ? v : JSON.stringify(v),
    ]),
  );
  pulumi.runtime.setAllConfig(config, secretKeys);

  // The SDK captures `new Error().stack` for every promise and resource; with source maps on
  // (tsx, vitest) each capture is mapped, which made one run take seconds. Positions are not
  // needed here, so map nothing while the program runs.
  const sourceMaps = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  try {
    await run();
    // Let every registration (and registerOutputs) reach the monitor before reading its state.
    await pulumi.runtime.disconnect();
  } finally {
    process.setSourceMapsEnabled(sourceMaps);
  }

  const states = monitor.getRegisteredResources();
  for (const r of resources) {
    const state = states.get(r.urn)?.state;
    if (state) r.outputs = typeof (state as Struct).toJavaScript === "function" ? (state as Struct).toJavaScript() : (state as SerializedProps);
  }
  return { project, stack, resources };
}

function emptyOptions(): RecordedOptions {
  return {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
  };
}

function fromRequest(req: RegisterRequest, urn: string, rootUrn: string, stack: string, project: string): RecordedResource {
  const timeouts = req.getCustomtimeouts();
  const propertyDependencies: Record<string, string[]> = {};
  req.getPropertydependenciesMap().forEach((deps, key) => (propertyDependencies[key] = deps.getUrnsList()));
  const type = req.getType();
  const custom = req.getCustom();
  // Resources created without a parent hang off the stack's root resource in a real deployment.
  const parent = req.getParent() || rootUrn;
  // The engine supplies a default provider when the program names none; say which, as CrossGuard would.
  const pkg = type.split(":")[0]!;
  const explicit = req.getProvider();
  const providerUrn = explicit ? explicit.split("::").slice(0, -1).join("::") : `urn:pulumi:${stack}::${project}::pulumi:providers:${pkg}::default`;
  return {
    type,
    name: req.getName(),
    urn,
    custom,
    inputs: req.getObject()?.toJavaScript() ?? {},
    outputs: {},
    options: {
      protect: req.getProtect() === true,
      ignoreChanges: req.getIgnorechangesList(),
      ...(req.getDeletebeforereplacedefined() ? { deleteBeforeReplace: req.getDeletebeforereplace() } : {}),
      aliases: req.getAliasurnsList(),
      customTimeouts: {
        createSeconds: seconds(timeouts?.getCreate()),
        updateSeconds: seconds(timeouts?.getUpdate()),
        deleteSeconds: seconds(timeouts?.getDelete()),
      },
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      parent,
    },
    ...(custom && !type.startsWith("pulumi:providers:")
      ? { provider: { type: `pulumi:providers:${pkg}`, name: providerUrn.split("::").pop()!, urn: providerUrn } }
      : {}),
    dependencies: req.getDependenciesList(),
    propertyDependencies,
  };
}
