/**
 * One measurement in a fresh process (Pulumi mocks are process-global): either the real
 * Serverpark program on a generated datacenter, or a bare program registering the same
 * number of plain resources. Prints one JSON line: {mode, hosts, ms, resources}.
 */
import * as pulumi from "@pulumi/pulumi";
import { performance } from "node:perf_hooks";
import { generateSpec } from "../../test/support/generateSpec";
import { runUnderMocks } from "../../test/support/pulumiMocks";

const [mode, hostsArg, countArg] = process.argv.slice(2);
const hosts = Number(hostsArg);

async function main(): Promise<void> {
  const config = { "serverpark:datacenter": generateSpec({ hosts }), "serverpark:target": "docker" };
  const started = performance.now();
  let resources: number;
  if (mode === "program") {
    const run = await runUnderMocks(() => import("../../stacks/index.js"), { stack: `bench${hosts}`, config, realTls: false });
    resources = run.resources.length;
  } else {
    const count = Number(countArg);
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
    resources = run.resources.length;
  }
  const ms = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ mode, hosts, ms: Math.round(ms), resources })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
