import { EXIT, UsageError, type CliCommand, type CliIo } from "../command";
import { table } from "../stack";
import { command as validate } from "./validate";
import { findProjectRoot, loadStackFile } from "../../components/spec/load";
import { dockerUnavailableReason } from "../../lab/docker-cli";
import { checkLabStack, LabInputError, labDown, labStatus, labUp, type StatusResult, type UpResult } from "../../lab/lab";
import { StackBusyError } from "../../lab/state";

const USAGE = `Usage: serverpark lab up <stack> [--timeout SECONDS] [--json]
       serverpark lab status <stack> [--json]
       serverpark lab down <stack> [--json]

Deploys a Docker-target stack to this machine's Docker engine without the Pulumi CLI (the
offline path of \`npm run up\`): the stack's Pulumi program runs under Pulumi's mocks and
the Docker resources it declares are applied to the engine. A second \`up\` keeps what is
unchanged and replaces what changed. Everything made carries the label
serverpark.lab=<stack>; \`status\` and \`down\` find exactly that. Passwords, keys and
certificates are generated once and kept in .serverpark/lab/<stack>.json (mode 0600).
See lab/README.md for what differs from \`pulumi up\`.

  up       validate, apply, wait until every container is healthy, print the endpoints
  status   the deployment's containers with their state and health, and the endpoints
  down     remove its containers, networks and volumes (images stay); ok when not deployed

Options:
  --timeout SECONDS  how long \`up\` waits for all containers to be healthy (default 240)
  --json             machine-readable output on stdout
Exit codes: 0 ok, 1 invalid stack, 2 usage, 3 failure (Docker, a container not healthy).`;

/** `replica/port` → `address:port`, shown as `address:port → replica port`, sorted by address. */
export function endpointRows(endpoints: Readonly<Record<string, string>>): string[][] {
  const byAddress = new Map<string, { replica: string; ports: string[] }>();
  for (const [key, address] of Object.entries(endpoints)) {
    const [replica = key, port = ""] = key.split("/");
    const row = byAddress.get(address) ?? { replica, ports: [] };
    row.ports.push(port);
    byAddress.set(address, row);
  }
  return [...byAddress]
    .map(([address, { replica, ports }]) => [address, `${replica} ${ports.join(", ")}`.trim()])
    .sort((a, b) => a[0]!.localeCompare(b[0]!, undefined, { numeric: true }));
}

function renderUp(result: UpResult, stackArg: string): string {
  const { state, summary, health } = result;
  const healthy = health.filter((h) => h.healthy).length;
  const seconds = (result.elapsedMs / 1000).toFixed(1);
  const lines = [
    `Datacenter ${state.datacenter} (${state.domain}) deployed by the offline applier: ${summary.created.length} created, ${summary.replaced.length} replaced, ${summary.removed.length} removed, ${summary.unchanged.length} unchanged.`,
    "",
    table(["ENDPOINT", "SERVES"], endpointRows(state.endpoints)),
    "",
    healthy === health.length
      ? `All ${health.length} containers healthy ${seconds} s after the start.`
      : `${healthy}/${health.length} containers healthy after ${seconds} s; not healthy: ${health
          .filter((h) => !h.healthy)
          .map((h) => h.name)
          .join(", ")}`,
  ];
  const edge = Object.entries(state.endpoints).find(([k]) => /\/(https|443)$/.test(k));
  if (edge) lines.push(`Try: curl -k https://${edge[1]}/ -H 'Host: www.${state.domain}'`);
  lines.push(`Status: npx serverpark lab status ${stackArg}   Remove: npx serverpark lab down ${stackArg}`);
  for (const h of health.filter((x) => !x.healthy)) lines.push("", `${h.name}: ${h.detail ?? "not healthy"}`);
  return lines.join("\n");
}

function renderStatus(s: StatusResult): string {
  if (!s.deployed) return `Stack ${s.stack} is not deployed by serverpark lab.`;
  const lines = [
    s.state
      ? `Datacenter ${s.state.datacenter} (${s.state.domain}), stack ${s.stack}, deployed ${s.state.deployedAt} from ${s.state.file}`
      : `Stack ${s.stack}: objects labelled serverpark.lab=${s.stack} exist, but the state file is gone (run \`lab up\` to adopt them or \`lab down\` to remove them)`,
    "",
    table(
      ["CONTAINER", "STATE", "HEALTH"],
      s.containers.map((c) => [c.name, c.state, c.health]),
    ),
    "",
    `${s.networks.length} networks, ${s.volumes.length} volumes`,
  ];
  if (s.state) lines.push("", table(["ENDPOINT", "SERVES"], endpointRows(s.state.endpoints)));
  return lines.join("\n");
}

/** Whether every container is running and, where it has a health check, healthy. */
const allHealthy = (s: StatusResult) => s.containers.every((c) => c.state === "running" && (c.health === "healthy" || c.health === "none"));

async function up(stackArg: string, values: Record<string, unknown>, io: CliIo, json: boolean, engineProblem: () => number | undefined): Promise<number> {
  // The same checks and messages as `serverpark validate`, before anything is touched.
  // Its "ok" line is not printed; its problems are, exactly as `validate` prints them.
  const said: string[] = [];
  const validation = await validate.run({ values: { json }, positionals: [stackArg] }, { ...io, out: (t) => said.push(t) });
  if (validation !== EXIT.ok) {
    for (const t of said) io.out(t);
    return validation;
  }
  const timeout = values.timeout === undefined ? 240 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got "${String(values.timeout)}"`);
  const file = loadStackFile(stackArg, io.cwd);
  checkLabStack(file);
  const noEngine = engineProblem();
  if (noEngine !== undefined) return noEngine;
  const result = await labUp(file, { root: findProjectRoot(), progress: (line) => io.err(`lab up: ${line}`), healthTimeoutMs: timeout * 1000 });
  const ok = result.health.every((h) => h.healthy);
  if (json) {
    const { outputs: _secrets, ...state } = result.state;
    io.out(JSON.stringify({ ok, ...state, summary: result.summary, health: result.health, elapsedMs: result.elapsedMs }, null, 2));
  } else io.out(renderUp(result, stackArg));
  return ok ? EXIT.ok : EXIT.failure;
}

export const command: CliCommand = {
  name: "lab",
  summary: "deploy a stack to the local Docker engine without the Pulumi CLI (up, status, down)",
  usage: USAGE,
  options: { json: { type: "boolean" }, timeout: { type: "string" } },
  positionals: { min: 2, max: 2 },
  async run({ values, positionals }, io) {
    const [action, stackArg] = positionals as [string, string];
    const json = values.json === true;
    if (!["up", "status", "down"].includes(action)) throw new UsageError(`unknown action "${action}"; expected up, status or down`);
    if (action !== "up" && values.timeout !== undefined) throw new UsageError(`--timeout applies to \`lab up\` only`);
    const stack = action === "up" ? stackArg : stackName(stackArg, io.cwd);
    const engineProblem = () => {
      const reason = dockerUnavailableReason();
      if (!reason) return undefined;
      io.err(`serverpark lab ${action}: the Docker engine does not answer (${reason}); start it with \`bash scripts/setup-docker.sh\``);
      return EXIT.failure;
    };
    try {
      if (action === "up") return await up(stack, values, io, json, engineProblem);
      const noEngine = engineProblem();
      if (noEngine !== undefined) return noEngine;
      const root = findProjectRoot();
      if (action === "status") {
        const status = await labStatus(stack, root);
        io.out(json ? JSON.stringify(statusJson(status), null, 2) : renderStatus(status));
        return status.deployed && !allHealthy(status) ? EXIT.failure : EXIT.ok;
      }
      const down = await labDown(stack, root, (line) => io.err(`lab down: ${line}`));
      if (json) io.out(JSON.stringify(down, null, 2));
      else io.out(down.wasDeployed ? `Stack ${stack} removed.` : `Stack ${stack} is not deployed by serverpark lab; nothing to remove.`);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof LabInputError) {
        io.err(`serverpark lab ${action}: ${e.message}`);
        return EXIT.invalid;
      }
      if (e instanceof StackBusyError) {
        io.err(`serverpark lab ${action}: ${e.message}`);
        return EXIT.failure;
      }
      throw e;
    }
  },
};

/** `status` and `down` also work for a stack whose file is gone: a name is taken as it is. */
function stackName(arg: string, cwd: string): string {
  if (!/[/\\]|\.ya?ml$/.test(arg)) return arg;
  return loadStackFile(arg, cwd).stack;
}

function statusJson(s: StatusResult) {
  const { state, ...rest } = s;
  if (!state) return { ...rest, healthy: allHealthy(s) };
  const { outputs: _secrets, ...shown } = state;
  return { ...rest, healthy: allHealthy(s), state: shown };
}
