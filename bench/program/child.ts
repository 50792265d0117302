/**
 * One measurement in a fresh process (Pulumi mocks are process-global). Modes:
 *
 * - `program <hosts> [dump.json]`: the real Serverpark program on a generated datacenter; with a
 *   dump path it also writes what it registered (after the clock stops) for `replay`.
 * - `bare <hosts> <count>`: a bare program registering `count` plain resources with two
 *   properties each, a component per ten.
 * - `replay <hosts> <dump.json>`: registers exactly the resources the program registered —
 *   same types through the same provider SDK classes, names and input values (secrets still
 *   secret) — without any model: what any program producing this datacenter has to pay Pulumi.
 * - `floor <hosts> <dump.json>`: the same resources of the same SDK classes with only the inputs
 *   each class requires: what the provider SDKs charge per resource whatever its inputs (each
 *   class declares every property of the resource, ~70 for a docker.Container, and the runtime
 *   makes an output with its promises for each).
 *
 * Prints one JSON line: {mode, hosts, ms, cpuMs, resources}. `cpuMs` (user + system of this
 * process) moves far less than wall time on a shared, loaded machine.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { unknown } from "@pulumi/pulumi/output";
import * as tls from "@pulumi/tls";
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { generateSpec } from "../../test/support/generateSpec";
import { isSecretValue, runUnderMocks } from "../../test/support/pulumiMocks";

const [mode, hostsArg, extra] = process.argv.slice(2);
const hosts = Number(hostsArg);

/** A resource as `program` dumps it for `replay`: inputs in wire form (secrets wrapped). */
interface Dumped {
  readonly type: string;
  readonly name: string;
  readonly rawInputs: Record<string, unknown>;
}

type Constructor = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** The SDK class of every custom resource type the program creates (the Hetzner target is not benchmarked). */
const CLASSES: Record<string, Constructor> = {
  "docker:index/container:Container": docker.Container,
  "docker:index/network:Network": docker.Network,
  "docker:index/volume:Volume": docker.Volume,
  "docker:index/image:Image": docker.Image,
  "tls:index/privateKey:PrivateKey": tls.PrivateKey,
  "tls:index/selfSignedCert:SelfSignedCert": tls.SelfSignedCert,
  "tls:index/certRequest:CertRequest": tls.CertRequest,
  "tls:index/locallySignedCert:LocallySignedCert": tls.LocallySignedCert,
  "random:index/randomPassword:RandomPassword": random.RandomPassword,
  "random:index/randomBytes:RandomBytes": random.RandomBytes,
};

/**
 * The recorded wire form back to inputs the way the program built them: secrets as
 * `pulumi.secret` on each leaf (the mock's deserialiser lifts a nested secret up to its
 * outermost array or object; wrapping that whole value would turn it unknown as soon as one
 * leaf is), and unknown leaves (certificates in a preview) as unknown values.
 */
function fromWire(v: unknown, secret = false): unknown {
  if (isSecretValue(v)) return fromWire(v.value, true);
  if (v && typeof v === "object" && (v as { __pulumiUnknown?: unknown }).__pulumiUnknown === true) return secret ? pulumi.secret(unknown) : unknown;
  if (Array.isArray(v)) return v.map((x) => fromWire(x, secret));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromWire(x, secret)]));
  return secret ? pulumi.secret(v) : v;
}

/**
 * The inputs each SDK class requires (its constructor throws without them): what `floor`
 * keeps of a resource's inputs.
 */
const REQUIRED: Record<string, readonly string[]> = {
  "docker:index/container:Container": ["image"],
  "docker:index/image:Image": ["imageName"],
  "tls:index/privateKey:PrivateKey": ["algorithm"],
  "tls:index/selfSignedCert:SelfSignedCert": ["allowedUses", "validityPeriodHours"],
  "tls:index/locallySignedCert:LocallySignedCert": ["allowedUses", "caCertPem", "certRequestPem", "validityPeriodHours"],
  "random:index/randomPassword:RandomPassword": ["length"],
  "random:index/randomBytes:RandomBytes": ["length"],
};

function replay(dumped: readonly Dumped[], floor = false): void {
  class Component extends pulumi.ComponentResource {
    constructor(type: string, name: string) {
      super(type, name, {}, {});
      this.registerOutputs({});
    }
  }
  for (const r of dumped) {
    // Default providers are registered by the SDK classes themselves, as in the program.
    if (r.type.startsWith("pulumi:providers:")) continue;
    const Class = CLASSES[r.type];
    const inputs = floor ? Object.fromEntries((REQUIRED[r.type] ?? []).map((k) => [k, r.rawInputs[k]])) : r.rawInputs;
    if (Class) new Class(r.name, fromWire(inputs));
    else if (r.type.startsWith("serverpark:")) new Component(r.type, r.name);
    else throw new Error(`replay: no SDK class for ${r.type}; add it to CLASSES`);
  }
}

async function main(): Promise<void> {
  const config = { "serverpark:datacenter": generateSpec({ hosts }), "serverpark:target": "docker" };
  const replaying = mode === "replay" || mode === "floor";
  const dumped: Dumped[] = replaying ? (JSON.parse(readFileSync(extra!, "utf8")) as Dumped[]) : [];
  // Like for like: the replay skips the stack traces Pulumi never prints, as the program does
  // (imported before the clock starts: loading our modules is not the replay's work).
  if (replaying) (await import("../../components/program.js")).skipUnreadPromiseStacks();
  const started = performance.now();
  const cpu = process.cpuUsage();
  let resources: { type: string; name: string; rawInputs: Record<string, any> }[];
  if (mode === "program") {
    resources = (await runUnderMocks(() => import("../../stacks/index.js"), { stack: `bench${hosts}`, config, realTls: false })).resources;
  } else if (replaying) {
    resources = (
      await runUnderMocks(
        async () => {
          replay(dumped, mode === "floor");
          return {};
        },
        { stack: `bench${hosts}`, config: {}, realTls: false },
      )
    ).resources;
  } else {
    const count = Number(extra);
    const run = await runUnderMocks(
      async () => {
        // The same shape of work without any model: a component per 10 resources, plain children.
        class Group extends pulumi.ComponentResource {}
        class Thing extends pulumi.CustomResource {}
        let parent: pulumi.ComponentResource | undefined;
        for (let i = 0; i < count; i++) {
          if (i % 10 === 0) {
            parent = new Group("bench:index:Group", `group-${i}`, {}, {});
            continue;
          }
          new Thing("bench:index:Thing", `thing-${i}`, { index: i, labels: [{ label: "a", value: String(i) }] }, { parent });
        }
        return {};
      },
      { stack: "bare", config: {}, realTls: false },
    );
    resources = run.resources;
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (mode === "program" && extra) {
    writeFileSync(extra, JSON.stringify(resources.map((r): Dumped => ({ type: r.type, name: r.name, rawInputs: r.rawInputs }))));
  }
  const cpuMs = Math.round((used.user + used.system) / 1000);
  process.stdout.write(`${JSON.stringify({ mode, hosts, ms: Math.round(ms), cpuMs, resources: resources.length })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
