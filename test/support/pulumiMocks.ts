/**
 * Runs the real Pulumi program under Pulumi's mocks and records every resource it registers,
 * with its inputs and options, exactly as the engine would receive them. Mocks stand in for
 * the Pulumi engine only; what the program builds is checked for real (and applied to a real
 * Docker engine by test/harness).
 *
 * Call once per test file (vitest isolates files): mocks and config are process-global.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { mockPassword } from "./mockCredentials";
import { mockTlsState } from "./mockTls";

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
  /** Mint real keys and certificates for @pulumi/tls resources (default true; benchmarks turn it off). */
  readonly realTls?: boolean;
}

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

/** Values a provider computes that the program reads back. */
function computed(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (type) {
    case "docker:index/image:Image":
      return { repoDigest: `${inputs.imageName}@sha256:${"0".repeat(64)}`, imageId: `sha256:${name}` };
    // Generated credentials: stable per resource name, so previews and snapshots stay reproducible.
    case "random:index/randomPassword:RandomPassword":
      return { result: mockPassword(name, Number(inputs.length ?? 24)) };
    case "random:index/randomBytes:RandomBytes": {
      const bytes = createHash("sha512")
        .update(`bytes:${name}`)
        .digest()
        .subarray(0, Number(inputs.length ?? 16));
      return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    default:
      return {};
  }
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
        const tls = options.realTls === false ? undefined : await mockTlsState(args.type, inputs);
        return { id, state: { ...args.inputs, ...computed(args.type, args.name, inputs), ...tls } };
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
