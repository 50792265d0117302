/**
 * Runs the real Pulumi program under Pulumi's mocks and records every resource it registers,
 * with its inputs and options, exactly as the engine would receive them. The mocks stand in
 * for the Pulumi engine only: what the program builds is what a provider would receive, and
 * the offline applier (./applier.ts) applies the recorded Docker resources to a real engine.
 *
 * Values a provider computes (a generated password, a key pair, a certificate) come from
 * an `OutputSource`: `serverpark lab` generates real ones and keeps them in its state file
 * (./state.ts); the tests use stable ones derived from resource names.
 *
 * Once per process: mocks and config are process-global (vitest isolates test files).
 */
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  /** Inputs with secrets unwrapped to their plain values (what the provider would apply). */
  readonly inputs: Record<string, any>;
  /** Inputs as the engine received them: secrets still wrapped (see isSecretValue). */
  readonly rawInputs: Record<string, any>;
  readonly provider?: string;
  readonly id: string;
}

export interface MockRun<T> {
  readonly resources: RecordedResource[];
  readonly exports: T;
  byType(type: string): RecordedResource[];
  one(type: string, name: string): RecordedResource;
}

export interface MockRunOptions {
  /** Stack name (the lock file stacks/Pulumi.<stack>.lock.json is read for it). */
  readonly stack?: string;
  /** Stack config: keys with their project prefix, values as plain JS (JSON-encoded here). */
  readonly config: Record<string, unknown>;
  /** Run as a preview (default true: nothing is written to disk). */
  readonly preview?: boolean;
  /** Where provider-computed values come from (passwords, keys, certificates). */
  readonly outputs: OutputSource;
}

/**
 * Computes what a provider would for a resource (`undefined`: nothing beyond the inputs).
 * `inputs` have secrets unwrapped.
 */
export type OutputSource = (type: string, name: string, inputs: Record<string, any>) => Promise<Record<string, unknown> | undefined>;

/** The wire form of a secret value: `{ [SECRET_SIG]: SECRET_VALUE, value }`. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

/** Replaces every wrapped secret by its plain value. */
export function unwrapSecrets(v: any): any {
  if (isSecretValue(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  return v;
}

/** A docker image's digest and id, which the program may read back (never pushed here). */
export function imageOutputs(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> | undefined {
  if (type !== "docker:index/image:Image") return undefined;
  return { repoDigest: `${inputs.imageName}@sha256:${"0".repeat(64)}`, imageId: `sha256:${name}` };
}

export async function runUnderMocks<T = Record<string, unknown>>(load: () => Promise<T>, options: MockRunOptions): Promise<MockRun<T>> {
  const resources: RecordedResource[] = [];
  let counter = 0;
  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        const id = args.type.startsWith("hcloud:") ? String(1000 + counter++) : `${args.name}-id`;
        const inputs = unwrapSecrets(args.inputs);
        resources.push({ type: args.type, name: args.name, inputs, rawInputs: args.inputs, ...(args.provider ? { provider: args.provider } : {}), id });
        return { id, state: { ...args.inputs, ...imageOutputs(args.type, args.name, inputs), ...(await options.outputs(args.type, args.name, inputs)) } };
      },
      call(args) {
        return args.inputs;
      },
    },
    "serverpark",
    options.stack ?? "test",
    options.preview ?? true,
  );
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(options.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
  const exports = await load();
  // Let every pending registration reach the mock before anyone looks at the list.
  await pulumi.runtime.disconnect();
  return {
    resources,
    exports,
    byType: (type) => resources.filter((r) => r.type === type),
    one: (type, name) => {
      const found = resources.find((r) => r.type === type && r.name === name);
      if (!found)
        throw new Error(
          `no ${type} named ${name}; have: ${resources
            .filter((r) => r.type === type)
            .map((r) => r.name)
            .join(", ")}`,
        );
      return found;
    },
  };
}

/** Resolves an Output in a test (never assert inside apply: it may never run). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) =>
    output.apply((v) => {
      resolve(v);
      return v;
    }),
  );
}
