/**
 * The end-to-end tests' use of the offline applier (lab/applier.ts): everything one test
 * run creates carries `serverpark.harness-run=<runId>` and the owning pid, so destroy()
 * removes exactly that run's containers, networks and volumes (images stay, for speed) and
 * sweepStale() removes what crashed runs left behind — never a live run's, and never a
 * `serverpark lab` deployment (those carry `serverpark.lab` instead).
 */
import { randomBytes } from "node:crypto";
import { DockerApplier, type ApplierOptions } from "../../lab/applier";
import { docker, dockerLines } from "../../lab/docker-cli";
import { processAlive } from "../../lab/state";

export type { RecordedResource } from "../../lab/applier";

export const RUN_LABEL = "serverpark.harness-run";
export const PID_LABEL = "serverpark.harness-pid";

export class DockerHarness extends DockerApplier {
  readonly runId: string;

  constructor(options: Omit<ApplierOptions, "labels"> = {}) {
    const runId = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
    super({ ...options, labels: { [RUN_LABEL]: runId, [PID_LABEL]: String(process.pid) } });
    this.runId = runId;
  }

  /** Removes every container, network and volume of this run. Images are kept. */
  async destroy(): Promise<void> {
    await removeLabelled(`${RUN_LABEL}=${this.runId}`, () => true);
  }

  /** Removes what earlier runs left behind when their process is gone (never a live run's). */
  async sweepStale(): Promise<void> {
    await removeLabelled(RUN_LABEL, (run, pid) => run !== this.runId && !processAlive(pid));
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
