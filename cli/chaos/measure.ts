/**
 * Measures downtime during a live run: every SAMPLE_INTERVAL_MS each probe starts one client
 * attempt (attempts overlap when a service is slow to answer, so a hanging service never
 * lowers the resolution), and the back-end probes run in their helper container on the
 * private network. Samples are kept on the epoch clock and turned into the run's real clock
 * at the end.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { TLS_PATHS } from "../../contracts/paths";
import type { DatacenterPlan } from "../../components/plan/types";
import { findProjectRoot } from "../../components/spec/load";
import type { ProbeLogins } from "./secrets";
import { docker } from "../../lab/docker-cli";
import type { ProbeSamples } from "../../components/power/live/compare";
import { datacenterProbes, publishedPorts, PROBE_TIMEOUT_MS, type ChaosProbe } from "./probes";
import { SkippedError } from "./probes/protocols";
import { freeAddress, startPrivateProber, type PrivateProber } from "./probes/private";

export const SAMPLE_INTERVAL_MS = 250;

/** The locally made base image (scripts/make-base-image.sh), which has node and nothing of ours. */
export const PROBE_IMAGE = "node:24-bookworm-slim";

export interface RawSample {
  readonly probe: string;
  /** Epoch ms: when a success was answered, when a failure was asked. */
  readonly t: number;
  readonly ok: boolean;
  /** Epoch ms when the attempt was asked. */
  readonly asked?: number;
  /** The private helper's round: a probe's targets asked in one round are one observation. */
  readonly round?: number;
}

/** Samples every probe on a fixed beat until stopped. */
export class Sampler {
  readonly samples: RawSample[] = [];
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly probes: readonly ChaosProbe[],
    private readonly intervalMs = SAMPLE_INTERVAL_MS,
  ) {}

  start(): void {
    const round = () => {
      for (const p of this.probes) {
        const t = Date.now();
        // An answer says the service was up when the answer came, not when it was asked: an
        // attempt started during an outage whose retransmitted SYN reaches the server after
        // it booted again succeeds seconds later, and timed at its start it would count as
        // "up" in the middle of the outage. A failure says it was not answering when asked.
        const attempt = p.check(AbortSignal.timeout(p.timeoutMs)).then(
          () => void this.samples.push({ probe: p.probe, t: Date.now(), ok: true, asked: t }),
          (err) => void (err instanceof SkippedError ? undefined : this.samples.push({ probe: p.probe, t, ok: false })),
        );
        this.pending.add(attempt);
        void attempt.finally(() => this.pending.delete(attempt));
      }
    };
    round();
    this.timer = setInterval(round, this.intervalMs);
  }

  /** Stops starting attempts and waits for those under way (each ends by its timeout). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.pending]);
  }
}

/** Raw samples → per-probe samples on the run's clock (seconds after `startedMs`), those before the start dropped. */
export function toProbeSamples(
  probes: readonly { probe: string; service: string }[],
  raw: readonly RawSample[],
  startedMs: number,
  intervalMs = SAMPLE_INTERVAL_MS,
): ProbeSamples[] {
  return probes.map((p) => ({
    probe: p.probe,
    service: p.service,
    intervalSeconds: intervalMs / 1000,
    samples: oneObservationPerRound(raw.filter((s) => s.probe === p.probe))
      .filter((s) => s.t >= startedMs)
      .map((s) => ({ at: (s.t - startedMs) / 1000, ok: s.ok, ...(s.asked !== undefined ? { askedAt: (s.asked - startedMs) / 1000 } : {}) }))
      .sort((a, b) => a.at - b.at),
  }));
}

/**
 * A probe with several targets (an HA db: every data node) is up in a round when any target
 * answered: of one round's samples the first success stands for it, else its first failure.
 * Samples without a round (one target each) are kept as they are.
 */
export function oneObservationPerRound(samples: readonly RawSample[]): RawSample[] {
  const rounds = new Map<number, RawSample>();
  const out: RawSample[] = [];
  for (const s of samples) {
    if (s.round === undefined) {
      out.push(s);
      continue;
    }
    const kept = rounds.get(s.round);
    if (!kept || (s.ok && !kept.ok) || (s.ok === kept.ok && s.t < kept.t)) rounds.set(s.round, s);
  }
  return [...out, ...rounds.values()];
}

export interface Measurement {
  /** Every probe of the run: its name and service. */
  readonly probes: readonly { probe: string; service: string }[];
  /** Stops every probe and returns the samples on the run's clock. */
  stop(startedMs: number): Promise<ProbeSamples[]>;
}

/**
 * Starts measuring the running datacenter: public probes from this process, back-end probes
 * in a helper container on the private network. Resolves once the helper sent its first
 * samples, so the run's clock can start with every probe already sampling.
 */
/** The datacenter CA as every replica holds it (TLS_PATHS.ca), read from the first that answers. */
async function datacenterCa(containerIds: readonly string[]): Promise<string | undefined> {
  for (const id of containerIds) {
    const out = await docker(["exec", id, "cat", TLS_PATHS.ca], { allowFailure: true });
    if (out.stdout.includes("BEGIN CERTIFICATE")) return out.stdout;
  }
  return undefined;
}

export async function startMeasurement(
  datacenter: string,
  plan: DatacenterPlan,
  replicaContainerIds: readonly string[],
  logins: ProbeLogins = new Map(),
): Promise<Measurement> {
  const set = datacenterProbes(plan, await publishedPorts(replicaContainerIds), logins);
  const sampler = new Sampler(set.public);
  let prober: PrivateProber | undefined;
  if (set.private.length > 0 && set.privateNetwork) {
    const network = plan.networks.find((n) => n.id === set.privateNetwork)!;
    const used = new Set([network.gateway, ...network.members.map((m) => m.address)]);
    const name = `${datacenter}-chaos-probe`;
    // A helper left behind by a run that was killed outright (SIGKILL: no clean-up) holds the name and address.
    await docker(["rm", "-f", name], { allowFailure: true, detached: true });
    prober = startPrivateProber({
      name,
      network: `${datacenter}-${network.id}`,
      address: freeAddress(network.cidr, used),
      image: PROBE_IMAGE,
      targets: set.private,
      intervalMs: SAMPLE_INTERVAL_MS,
      timeoutMs: PROBE_TIMEOUT_MS,
      passwords: set.passwords,
      ...(set.private.some((t) => t.kind === "postgres-query") ? { ca: await datacenterCa(replicaContainerIds) } : {}),
      // The logins' clients (pg, ssh2), read-only; its real path, as the Docker engine needs it.
      ...(Object.keys(set.passwords).length > 0 ? { nodeModules: realpathSync(join(findProjectRoot(), "node_modules")) } : {}),
    });
    try {
      await Promise.race([
        prober.ready,
        new Promise((_, reject) => setTimeout(() => reject(new Error("the chaos probe on the private network sent nothing for 60 s")), 60_000).unref()),
      ]);
    } catch (e) {
      await prober.stop();
      throw e;
    }
  }
  sampler.start();
  const probes = [...set.public.map((p) => ({ probe: p.probe, service: p.service })), ...uniqueProbes(set.private)];
  return {
    probes,
    async stop(startedMs) {
      await Promise.all([sampler.stop(), prober?.stop()]);
      return toProbeSamples(probes, [...sampler.samples, ...(prober?.samples ?? [])], startedMs);
    },
  };
}

function uniqueProbes(targets: readonly { probe: string }[]): { probe: string; service: string }[] {
  return [...new Set(targets.map((t) => t.probe))].map((probe) => ({ probe, service: probe.split("/")[0]! }));
}
