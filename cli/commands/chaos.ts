import { availableParallelism, loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT, UsageError, type CliCommand, type CliIo } from "../command";
import { readScenario } from "../scenario";
import { loadPlan, table } from "../stack";
import { ScenarioError, UnknownComponentError } from "../../components/power";
import { clock } from "../../components/power/chart";
import { deploymentProblems, liveDatacenter } from "../../components/power/live/containers";
import { liveTimeline, parseSpeed, SpeedError } from "../../components/power/live/timeline";
import { compare, describeIntervals, parseTolerance, ToleranceError, type FidelityRow, type Tolerance } from "../../components/power/live/compare";
import { predictDowntime, type ServicePrediction } from "../../components/power/live/predict";
import { renderChaosChart } from "../../components/power/live/chartHtml";
import { loadSlowdown } from "../../components/power/live/boot";
import { startMeasurement } from "../chaos/measure";
import { LiveController } from "../chaos/controller";
import { datacenterContainers, haPrimary } from "../chaos/docker";
import { playLive, type ChaosLog } from "../chaos/run";
import { probeLogins, secretsFromFile, secretsFromLab, secretsFromPulumi, type DeploymentSecrets } from "../chaos/secrets";
import { findProjectRoot } from "../../components/spec/load";
import { writeEvidence } from "../../components/compliance/evidence";
import { chaosEvidence } from "../chaos/evidence";

const USAGE = `Usage: serverpark chaos <stack> --scenario <file|events> [--speed N] [--tolerance 2s,10%] [--secrets file] [--json] [--chart out.html]

Plays a power scenario against the RUNNING datacenter of the stack (found by its containers'
serverpark.datacenter label). The simulator runs the power chain (utility, UPS drain,
generator start and failure, fuel) on its clock, compressed by the speed; whenever a host
loses power every replica container on it is killed at once (SIGKILL, like a power cut) and
its agent reports the host unpowered; when power returns the agent is told first, then the
replicas start and are watched until healthy. Replicas on powered hosts are never touched.
At the end, or on Ctrl-C, every host gets its power back and the command waits until every
container that was running and healthy before is so again.

Throughout, every service is probed as a client would, every 250 ms, through its own protocol
(the site and the game through the proxy, DNS, SMTP, an IMAP LOGIN and the NOC on their
published ports; a db query and an SFTP login from the private network; the logins use the
deployment's generated passwords, see --secrets), and the measured downtime is compared with
the prediction: the simulator's power timeline plus each role's recorded boot time (a range,
stretched by this machine's load and shared among the replicas that boot at once), the
proxy's ejection of dead upstreams and clients trying every replica (components/power/README.md).

Options:
  --scenario <file|events>  the same scenario as \`serverpark simulate --scenario\`: a YAML/JSON
                            file, or events inline such as "host:h3@0/2m" or
                            "utility:A@0/30m,generator:A@0" (see components/power/README.md)
  --speed N                 simulated seconds per real second (default 60: the local stack's
                            10-minute UPS runtime takes about 10 s); any number > 0
  --tolerance <2s,10%>      how far measured downtime may differ from the predicted one: the
                            larger of the seconds and the percentage of the prediction
                            (default 2s,10%)
  --secrets <file>          JSON, resource name → generated password, for the probes' logins
                            (IMAP LOGIN, SFTP login, db query) when the stack was not
                            deployed by \`serverpark lab\` (its state has them) nor by a
                            \`pulumi\` CLI on PATH (\`pulumi stack export --show-secrets\`);
                            without any, those probes stop at the handshake
  --chart <out.html>        also write one self-contained HTML page drawing, per service, the
                            predicted and the measured down intervals on one time axis
  --evidence <dir>          also write the run's result as serverpark-evidence/v1 JSON into
                            <dir> (stack, stack-file SHA-256, date, pass/fail, the ISO 27001
                            controls it proves) for \`serverpark compliance --evidence\`
  --json                    print the log of power changes applied (host, simulated and real
                            time, containers killed and started) as JSON

Progress (simulated clock, real clock, dark hosts) goes to stderr.
Exit codes: 0 played, restored and every service as predicted; 1 a service's measured downtime
differs from the prediction by more than the tolerance, or a service predicted to stay up went
down, or bad scenario or stack not deployed (nothing touched);
2 usage; 3 docker failed, restoring timed out, or the run was interrupted (power restored).`;

function progressWriter(io: CliIo): (line: string, transient: boolean) => void {
  let ticks = 0;
  return (line, transient) => {
    // A terminal gets one line rewritten in place each second; a log gets every change and,
    // between changes, one line every 10 s.
    if (io.interactive) process.stderr.write(`\r\x1b[K${line}${transient ? "" : "\n"}`);
    else if (!transient || ++ticks % 10 === 0) io.err(line);
  };
}

function renderLog(log: ChaosLog): string {
  const names = (xs: readonly { replica: string }[]) => xs.map((x) => x.replica).join(" ") || "-";
  const rows = log.changes.map((c) => [
    clock(c.simSeconds),
    `${c.realSeconds.toFixed(1)} s`,
    c.host,
    c.kind,
    c.agentPowered === null ? "-" : c.agentPowered ? "powered" : "unpowered",
    names(c.killed),
    names(c.started),
    c.healthyAtRealSeconds === null ? "-" : `${c.healthyAtRealSeconds.toFixed(1)} s`,
  ]);
  const restore = log.restore;
  return [
    `Chaos run on ${log.datacenter}: ${log.scenario} at speed ${log.speed}${log.interrupted ? " (interrupted)" : ""}`,
    "",
    log.changes.length === 0
      ? "No host lost power in this scenario: nothing was killed."
      : table(["SIM", "REAL", "HOST", "CHANGE", "AGENT", "KILLED", "STARTED", "HEALTHY AT"], rows),
    "",
    restore
      ? `Restored at ${restore.realSeconds.toFixed(1)} s (started ${names(restore.started)}); every container healthy again at ${restore.healthyAtRealSeconds?.toFixed(1) ?? "?"} s.`
      : "Not restored.",
  ].join("\n");
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const seconds = (lo: number, hi: number) => (hi.toFixed(1) === lo.toFixed(1) ? `${lo.toFixed(1)} s` : `${lo.toFixed(1)}…${hi.toFixed(1)} s`);

export function renderFidelity(
  rows: readonly FidelityRow[],
  tolerance: Tolerance,
  machine?: { readonly load: number; readonly cores: number; readonly bootSlowdown: number },
): string {
  const body = rows.map((r) => [
    r.probe,
    `${describeIntervals(r.predicted.down, r.predicted.latestDown)} (${seconds(r.predicted.seconds, r.predicted.latestSeconds)})`,
    `${describeIntervals(r.measured.down)} (${r.measured.seconds.toFixed(1)} s)`,
    `${r.differenceSeconds >= 0 ? "+" : ""}${r.differenceSeconds.toFixed(1)} s (±${r.toleranceSeconds.toFixed(1)})`,
    r.verdict,
  ]);
  const bad = rows.filter((r) => r.verdict !== "ok").length;
  return [
    `Prediction vs measurement (real seconds after the start; tolerance ${tolerance.seconds} s or ${Math.round(tolerance.fraction * 100)} %, whichever is larger):`,
    ...(machine
      ? [
          `Boot times stretched ×${machine.bootSlowdown.toFixed(2)} for this machine's load ${machine.load.toFixed(1)} on ${machine.cores} cores; predicted "a…b s": shortest to longest boot.`,
        ]
      : []),
    "",
    table(["SERVICE", "PREDICTED DOWN", "MEASURED DOWN", "DIFFERENCE", "VERDICT"], body),
    "",
    bad === 0 ? "Every service went down and came back as predicted." : `${bad} of ${rows.length} probes did not behave as predicted.`,
  ].join("\n");
}

export const command: CliCommand = {
  name: "chaos",
  summary: "play a power scenario against the running datacenter: power cuts kill and boot real containers",
  usage: USAGE,
  options: {
    scenario: { type: "string" },
    speed: { type: "string" },
    json: { type: "boolean" },
    tolerance: { type: "string" },
    secrets: { type: "string" },
    chart: { type: "string" },
    evidence: { type: "string" },
  },
  positionals: { min: 1, max: 1 },
  async run({ values, positionals }, io) {
    if (values.scenario === undefined) throw new UsageError("--scenario is required");
    let speed: number;
    try {
      speed = parseSpeed(values.speed);
    } catch (e) {
      if (e instanceof SpeedError) throw new UsageError(e.message);
      throw e;
    }
    let tolerance: Tolerance;
    try {
      tolerance = parseTolerance(values.tolerance === undefined ? undefined : String(values.tolerance));
    } catch (e) {
      if (e instanceof ToleranceError) throw new UsageError(e.message);
      throw e;
    }
    const { spec, plan, file } = loadPlan(positionals[0]!, io.cwd);
    let timeline;
    try {
      timeline = liveTimeline(spec, plan, readScenario(String(values.scenario), io.cwd));
    } catch (e) {
      if (e instanceof ScenarioError || e instanceof UnknownComponentError) {
        io.err(`serverpark chaos: ${e.message}`);
        return EXIT.invalid;
      }
      throw e;
    }

    // Everything above touched nothing; from here on Docker is read, then changed.
    const live = liveDatacenter(spec.name, await datacenterContainers(spec.name));
    const problems = deploymentProblems(live, spec);
    if (problems.length > 0) {
      io.err(`serverpark chaos: cannot play the scenario on the running datacenter:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
      return EXIT.invalid;
    }

    // The logins the probes prove service with (an IMAP LOGIN, an SFTP login, a db query).
    let secrets: DeploymentSecrets | undefined;
    if (values.secrets !== undefined) {
      try {
        secrets = secretsFromFile(resolve(io.cwd, String(values.secrets)));
      } catch (e) {
        io.err(`serverpark chaos: cannot read --secrets ${String(values.secrets)}: ${(e as Error).message.split("\n")[0]}`);
        return EXIT.invalid;
      }
    } else secrets = secretsFromLab(findProjectRoot(io.cwd), file.stack) ?? (await secretsFromPulumi(file.stack, io.cwd));
    const logins = probeLogins(plan, secrets);
    io.err(
      logins.size > 0
        ? `serverpark chaos: probes log in to ${[...logins.keys()].join(", ")} with the passwords from ${secrets!.source}`
        : `serverpark chaos: no deployment secrets found (serverpark lab state, pulumi stack export, --secrets): the db, mail and SFTP probes stop at the handshake`,
    );

    // A highly available db's primary: losing its host costs a failover, a standby's nothing (components/power/live/haGroup.ts).
    const primaries: Record<string, string> = {};
    for (const s of plan.services.filter((x) => x.ha)) {
      const nodes = [...live.replicas.values()].flat().filter((r) => r.wasRunning && s.replicas.includes(r.replica));
      const primary = await haPrimary(nodes);
      if (primary) primaries[s.id] = primary;
      io.err(
        primary
          ? `serverpark chaos: ${s.id} is a highly available group; its primary is ${primary}`
          : `serverpark chaos: ${s.id} is a highly available group; no data node says it is the primary: predicting both cases`,
      );
    }

    // The machine's load before the run: it stretches every boot (components/power/live/boot.ts).
    const machine = { load: round(loadavg()[0]!), cores: availableParallelism() };

    const abort = new AbortController();
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) io.err(`\nserverpark chaos: ${signal}: stopping the scenario and restoring power to every host (please wait)`);
      else io.err(`serverpark chaos: still restoring power; the datacenter would be left half-dark if this stopped now`);
      abort.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      let started = Date.now();
      const controller = new LiveController(live, plan, () => (Date.now() - started) / 1000);
      const mismatches = await controller.snapshot();
      if (mismatches.length > 0) {
        io.err(`serverpark chaos: cannot play the scenario on the running datacenter:\n${mismatches.map((p) => `  - ${p}`).join("\n")}`);
        return EXIT.invalid;
      }
      let measurement;
      try {
        measurement = await startMeasurement(
          spec.name,
          plan,
          [...live.replicas.values()]
            .flat()
            .filter((r) => r.wasRunning)
            .map((r) => r.id),
          logins,
        );
      } catch (e) {
        io.err(`serverpark chaos: cannot measure the services, nothing was changed: ${(e as Error).message}`);
        return EXIT.failure;
      }
      started = Date.now(); // the scenario's clock starts once the starting state is recorded and every probe samples
      let log: ChaosLog;
      let predicted: ServicePrediction[];
      let samples;
      try {
        log = await playLive(timeline, spec.name, controller, started, { speed, signal: abort.signal, progress: progressWriter(io) });
        // The simulator's cuts and boots, placed where the controller applied them.
        const applied = { changes: log.changes, restoreAtRealSeconds: log.restore?.realSeconds };
        // Replicas that boot at once share this machine's cores.
        predicted = predictDowntime(spec, plan, timeline, { speed, applied, primaries, ...machine });
        // Keep measuring until the last predicted recovery has had its tolerance, so a late one is seen.
        const lastPredicted = Math.max(0, ...predicted.flatMap((p) => p.down.map((d) => d.to)));
        const until = Math.max((Date.now() - started) / 1000, lastPredicted + tolerance.seconds + 1);
        if (!abort.signal.aborted) await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + until * 1000 - Date.now())));
      } finally {
        samples = await measurement.stop(started);
      }
      const measuredUntil = (Date.now() - started) / 1000;
      const slowdown = round(loadSlowdown(machine.load, machine.cores));
      log.fidelity = {
        tolerance,
        machine: { ...machine, bootSlowdown: slowdown },
        measuredUntilSeconds: round(measuredUntil),
        predicted,
        rows: compare(predicted, samples, tolerance, measuredUntil),
        samples,
      };
      io.out(
        values.json === true ? JSON.stringify(log, null, 2) : `${renderLog(log)}\n\n${renderFidelity(log.fidelity.rows, tolerance, log.fidelity.machine)}`,
      );
      if (values.chart !== undefined) {
        const path = resolve(io.cwd, String(values.chart));
        const title = `${log.datacenter}: ${log.scenario} at speed ${log.speed}`;
        writeFileSync(path, renderChaosChart({ title, rows: log.fidelity.rows, changes: log.changes, untilSeconds: log.fidelity.measuredUntilSeconds }));
        io.err(`serverpark chaos: chart written to ${path}`);
      }
      if (values.evidence !== undefined) {
        const path = writeEvidence(resolve(io.cwd, String(values.evidence)), chaosEvidence(log, file, new Date()));
        io.err(`serverpark chaos: evidence written to ${path}`);
      }
      if (log.interrupted) return EXIT.failure;
      return log.fidelity.rows.every((r) => r.verdict === "ok") ? EXIT.ok : EXIT.invalid;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};
