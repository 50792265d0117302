/**
 * `serverpark chaos` on the running e2e datacenter, every verdict at the default tolerance
 * (±2 s or ±10 %), the probes logging in (IMAP LOGIN, SFTP login, a db query) with the
 * passwords the harness deployed (`--secrets`). The db is a highly available group (data
 * nodes db-0 on h3, feed A only, and db-1 on h6, feed B only; the monitor on h8): its probe
 * counts it up while a data node answers read-write, so losing the primary's host costs the
 * failover (components/power/live/haGroup.ts FAILOVER_SECONDS), not that host's dark time and
 * boot, and losing the standby's host costs nothing; each test takes the primary from the
 * run's own report ("its primary is …").
 * (d) one host fails and is repaired: its replicas die by SIGKILL (docker's own die events
 * say exit 137), nothing else is touched, its agent keeps running and reports the host
 * unpowered, and afterwards every container is healthy again;
 * (b) feed A's utility lost with its generator failing takes h3 dark after the UPS runtime:
 * with db-0 the primary, the db is down for the failover to db-1, and back before h3 has power
 * again; (a) feed A's utility lost with a working generator takes nothing down; (c) PDU
 * r1-pdu-a fails: h3 (on that PDU alone) goes dark, the dual-corded hosts stay up, and the db
 * is down for at most a failover if db-0 was the primary, not at all if it was the standby;
 * (e) both feeds lose utility and both generators fail: every host goes dark when its UPSes
 * run out and every service comes back in the predicted order.
 * Ctrl-C in the middle of an outage restores it all the same. afterAll restores the
 * datacenter even when a test fails.
 */
import "tsx/cjs";
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { readEvidenceDir } from "../../components/compliance/evidence";
import { FAILOVER_SECONDS } from "../../components/power/live/haGroup";
import { e2eDbGroup, waitSettled } from "./dbGroup";
import { captureIo } from "../support/cliIo";
import { mockPassword } from "../support/mockCredentials";
import { e2eConfig } from "./globalSetup";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();
const { main } = createRequire(join(process.cwd(), "test/e2e/chaos.e2e.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");

/** The host that fails: it carries replicas, and other hosts carry more. */
const HOST = "h1";
/** The db's data nodes: db-0 on h3 (feed A, PDU r1-pdu-a only). */
const DB_ON_H3 = "db-0";

interface State {
  Running: boolean;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string };
}

async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
}

async function states(): Promise<Map<string, State>> {
  const names = dc.containers.map((c) => c.name);
  const out = JSON.parse(await docker("inspect", "--type", "container", ...names)) as { Name: string; State: State }[];
  return new Map(out.map((c) => [c.Name.replace(/^\//, ""), c.State]));
}

/**
 * Docker's own record of containers dying, streamed while the test runs (the engine keeps
 * only a short backlog of past events, which its health-check execs soon push out).
 */
function watchDies(): { stop(): Promise<{ name: string; exitCode: string }[]> } {
  const since = String(Math.floor(Date.now() / 1000) - 1);
  const args = [
    "events",
    "--since",
    since,
    "--filter",
    `label=serverpark.datacenter=${dc.datacenter}`,
    "--filter",
    "event=die",
    "--format",
    "{{json .Actor.Attributes}}",
  ];
  const child = spawn("docker", args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await closed;
      return out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { name: string; exitCode: string });
    },
  };
}

/** Back to a fully powered, running datacenter, whatever the test left behind. */
async function restoreDatacenter(before: ReadonlyMap<string, State>): Promise<void> {
  const body = (host: string) => {
    const planned = (dc.plan.hosts as { id: string; psus: { feed: string; pdu: string }[] }[]).find((h) => h.id === host)!;
    return JSON.stringify({
      feeds: Object.fromEntries(planned.psus.map((p) => [p.feed, true])),
      pdus: Object.fromEntries(planned.psus.map((p) => [p.pdu, true])),
      psus: Object.fromEntries(planned.psus.map((_, i) => [`psu${i + 1}`, true])),
    });
  };
  const script = "fetch('http://127.0.0.1:9100/power',{method:'POST',body:process.argv[1]}).then(r=>process.exit(r.ok?0:1))";
  for (const agent of dc.containers.filter((c) => c.kind === "host")) {
    await docker("exec", agent.name, "node", "-e", script, body(agent.host)).catch(() => undefined);
  }
  const stopped = [...(await states())].filter(([name, s]) => !s.Running && before.get(name)?.Running !== false).map(([name]) => name);
  if (stopped.length > 0) await docker("start", ...stopped);
  // The next e2e file expects a healthy datacenter: give the restarted ones their boot time.
  for (let i = 0; i < 240; i++) {
    const now = await states();
    const back = [...before].every(
      ([name, was]) => now.get(name)?.Running === was.Running && (was.Health?.Status !== "healthy" || now.get(name)?.Health?.Status === "healthy"),
    );
    if (back) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Every probe of the e2e datacenter: each service through its own protocol. */
const PROBES = ["arena/websocket", "db/query", "files/sftp-login", "mail/imap-login", "mail/smtp", "noc/http", "ns/dns", "www/http", "www/https"];

interface ChaosJson {
  changes: { host: string; kind: string; realSeconds: number }[];
  fidelity: {
    rows: {
      probe: string;
      verdict: string;
      differenceSeconds: number;
      toleranceSeconds: number;
      predicted: { seconds: number; latestSeconds: number; down: { from: number; to: number }[]; latestDown: { from: number; to: number }[] };
      measured: { seconds: number; down: { from: number; to: number }[] };
    }[];
  };
}

/** The verdict table, for failure messages. */
function fidelityTable(log: Pick<ChaosJson, "fidelity">): string {
  const show = (d: { from: number; to: number }[]) => d.map((i) => `${i.from.toFixed(1)}-${i.to.toFixed(1)}`).join(",") || "-";
  return (log.fidelity?.rows ?? [])
    .map(
      (r) =>
        `${r.probe}: predicted ${show(r.predicted.down)} (latest ${show(r.predicted.latestDown)}) measured ${show(r.measured.down)} diff ${r.differenceSeconds} ${r.verdict}`,
    )
    .join("\n");
}

/** The db's primary when the run began, as `serverpark chaos` reported it (it asks each data node's GET /cluster). */
function primaryOfRun(stderr: string): string {
  const primary = /db is a highly available group; its primary is (\S+)/.exec(stderr)?.[1];
  expect(primary, `chaos named no db primary:\n${stderr}`).toBeDefined();
  return primary!;
}

/**
 * h3 dark from its power-off to its power-on: with db-0 the primary the db is down for the
 * failover to db-1, predicted and measured, and no longer than one (FAILOVER_SECONDS); with
 * db-0 the standby, nothing is predicted.
 */
function expectDbLosesH3(log: ChaosJson, primary: string): ChaosJson["fidelity"]["rows"][number] {
  const db = log.fidelity.rows.find((r) => r.probe === "db/query")!;
  const table = fidelityTable(log);
  if (primary === DB_ON_H3) {
    expect(db.predicted.seconds, table).toBeGreaterThan(1);
    expect(db.measured.seconds, table).toBeGreaterThan(1);
    expect(db.predicted.latestSeconds, table).toBeLessThanOrEqual(FAILOVER_SECONDS.max + 0.01);
  } else {
    expect(primary, "the other data node").toBe("db-1");
    expect(db.predicted.latestSeconds, table).toBe(0);
  }
  return db;
}

describeE2e("serverpark chaos on the running datacenter", () => {
  let stackFile = "";
  let secretsFile = "";
  let before = new Map<string, State>();
  /** `serverpark chaos` on the e2e stack, logging in with the deployed passwords. */
  const chaos = async (scenario: string, speed: number, extra: string[] = []) => {
    const io = captureIo();
    const code = await main(["chaos", stackFile, "--scenario", scenario, "--speed", String(speed), "--secrets", secretsFile, "--json", ...extra], io);
    return { code, io, log: JSON.parse(io.stdout || "{}") as ChaosJson };
  };
  let dies: ReturnType<typeof watchDies> | undefined;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-chaos-"));
    stackFile = join(dir, `Pulumi.${dc.datacenter}.yaml`);
    writeFileSync(stackFile, stringify({ config: e2eConfig() }));
    // The harness deploys under Pulumi's mocks: these are the passwords the replicas got.
    secretsFile = join(dir, "secrets.json");
    const names = [`${dc.datacenter}-svc-db-app-password`, `${dc.datacenter}-svc-mail-user-postmaster`, `${dc.datacenter}-svc-files-user-files`];
    writeFileSync(secretsFile, JSON.stringify(Object.fromEntries(names.map((n) => [n, mockPassword(n, n.endsWith("app-password") ? 32 : 24)]))), {
      mode: 0o600,
    });
    // A group that just booted may still be joining its standby: a primary and a secondary first,
    // so that the primary's loss is a failover as the model says.
    await waitSettled(await e2eDbGroup(dc));
    before = await states();
  }, 360_000);

  afterAll(async () => {
    await dies?.stop();
    await restoreDatacenter(before);
  });

  it(`kills exactly ${HOST}'s replicas like a power cut, then boots them until healthy`, async () => {
    const onHost = dc.containers.filter((c) => c.kind === "replica" && c.host === HOST).map((c) => c.name);
    const agent = dc.host(HOST).name;
    expect(onHost.length).toBeGreaterThan(0);
    dies = watchDies();

    const io = captureIo();
    const evidenceDir = mkdtempSync(join(tmpdir(), "sp-chaos-evidence-"));
    const code = await main(
      ["chaos", stackFile, "--scenario", `host:${HOST}@0/1m`, "--speed", "60", "--secrets", secretsFile, "--json", "--evidence", evidenceDir],
      io,
    );
    const log = JSON.parse(io.stdout) as Omit<ChaosJson, "changes"> & {
      changes: {
        host: string;
        kind: string;
        agentPowered: boolean;
        killed: { container: string }[];
        started: { container: string }[];
        healthyAtRealSeconds: number | null;
      }[];
      restore: { healthyAtRealSeconds: number | null };
    };
    console.info(`host ${HOST} fails for a minute at speed 60:\n${fidelityTable(log)}`);
    expect(log.fidelity.rows.map((r) => r.probe).sort()).toEqual(PROBES);
    // A service whose every replica is on the host went down, predicted and measured (noc-0 in the e2e plan).
    const onlyHere = (dc.plan.services as { id: string; replicas: string[] }[]).filter((svc) =>
      svc.replicas.every((id) => (dc.plan.replicas as { id: string; host: string }[]).find((r) => r.id === id)?.host === HOST),
    );
    const downRows = log.fidelity.rows.filter((r) => onlyHere.some((svc) => r.probe.startsWith(`${svc.id}/`)));
    expect(downRows.length, `services only on ${HOST}: ${onlyHere.map((x) => x.id).join(", ")}`).toBeGreaterThan(0);
    for (const row of downRows) {
      expect(row.predicted.seconds, row.probe).toBeGreaterThan(0);
      expect(row.measured.seconds, row.probe).toBeGreaterThan(0);
    }

    // The log: one cut and one boot of that host, the agent reporting each.
    expect(log.changes.map((c) => [c.host, c.kind, c.agentPowered])).toEqual([
      [HOST, "power-off", false],
      [HOST, "power-on", true],
    ]);
    expect(log.changes[0]!.killed.map((k) => k.container).sort()).toEqual([...onHost].sort());
    expect(log.changes[1]!.started.map((k) => k.container).sort()).toEqual([...onHost].sort());
    expect(log.changes[1]!.healthyAtRealSeconds).not.toBeNull();
    expect(log.restore.healthyAtRealSeconds).not.toBeNull();

    // Docker's own record: the host's replicas died of SIGKILL, nothing else of the datacenter died.
    const events = await dies.stop();
    expect(events.map((e) => e.name).sort(), `chaos said: ${io.stderr}`).toEqual([...onHost].sort());
    expect(new Set(events.map((e) => e.exitCode))).toEqual(new Set(["137"]));

    // The host's replicas were started again; every other container (its agent too) kept running untouched.
    const after = await states();
    for (const [name, was] of before) {
      const now = after.get(name)!;
      expect(now.Running, name).toBe(was.Running);
      if (onHost.includes(name)) {
        expect(Date.parse(now.FinishedAt), name).toBeGreaterThan(Date.parse(was.StartedAt));
        expect(Date.parse(now.StartedAt), name).toBeGreaterThan(Date.parse(now.FinishedAt));
      } else expect([now.StartedAt, now.FinishedAt], name).toEqual([was.StartedAt, was.FinishedAt]);
      if (was.Health?.Status === "healthy") expect(now.Health?.Status, name).toBe("healthy");
    }
    expect(after.get(agent)!.StartedAt).toBe(before.get(agent)!.StartedAt);
    // Every service as predicted, within the default tolerance (exit 0 says so, the table says how).
    expect(code, `${io.stderr}\n${fidelityTable(log)}`).toBe(0);
    for (const row of log.fidelity.rows) expect(row.verdict, fidelityTable(log)).toBe("ok");

    // The run left its evidence (issue 20): this stack file's hash, pass, the continuity controls;
    // the compliance report passes A.5.29 and A.5.30 on it with the run's date.
    const files = readEvidenceDir(evidenceDir);
    expect(files).toHaveLength(1);
    const evidence = files[0]!.evidence;
    const hash = `sha256:${createHash("sha256").update(readFileSync(stackFile)).digest("hex")}`;
    expect(evidence).toMatchObject({ kind: "chaos", stack: dc.datacenter, stackHash: hash, result: "pass", controls: ["A.5.29", "A.5.30"] });
    const soa = captureIo();
    expect(await main(["compliance", stackFile, "--json", "--evidence", evidenceDir], soa), soa.stderr).toBe(0);
    const report = JSON.parse(soa.stdout) as { controls: { id: string; result: string; evidence: { date: string }[] }[] };
    for (const id of ["A.5.29", "A.5.30"])
      expect(
        report.controls.find((c) => c.id === id),
        id,
      ).toMatchObject({ result: "pass", evidence: [{ date: evidence.date }] });
  });
  it("utility A lost with generator A failing: after the UPS runtime h3 goes dark; the db fails over to db-1 (if db-0 was primary), as predicted", async () => {
    // The local stack's UPS lasts about 2 h at its load: at speed 600 that is 12 s, the utility returns at 24 s.
    const { code, io, log } = await chaos("utility:A@0/4h,generator:A@0", 600);
    const primary = primaryOfRun(io.stderr);
    console.info(`utility A lost, generator A failed, speed 600, db primary ${primary}:\n${fidelityTable(log)}`);
    expect(log.changes.filter((c) => c.kind !== "supply").map((c) => [c.host, c.kind])).toEqual([
      ["h3", "power-off"],
      ["h3", "power-on"],
    ]);
    const db = expectDbLosesH3(log, primary);
    if (primary === DB_ON_H3) {
      // Down for the failover, not for h3's dark time: both ended while h3 still had no power.
      const powerOff = log.changes.find((c) => c.host === "h3" && c.kind === "power-off")!.realSeconds;
      const powerOn = log.changes.find((c) => c.host === "h3" && c.kind === "power-on")!.realSeconds;
      expect(Math.max(...db.predicted.latestDown.map((d) => d.to)), fidelityTable(log)).toBeLessThan(powerOn);
      const failover = db.measured.down.find((d) => d.to > powerOff);
      expect(failover?.to, fidelityTable(log)).toBeLessThan(powerOn);
    }
    // And every service as predicted, within the default tolerance.
    expect(code, `${io.stderr}\n${fidelityTable(log)}`).toBe(0);
    for (const row of log.fidelity.rows) expect(row.verdict, fidelityTable(log)).toBe("ok");
  });

  it("utility A lost with generator A starting: the UPS bridges the start, nothing goes down (a)", async () => {
    const scenario = join(stackFile, "..", "utility-a-generator-ok.yaml");
    writeFileSync(
      scenario,
      stringify({ name: "utility A lost, generator A starts", duration: "1h", generatorStart: "ok", events: [{ at: 0, fail: "utility:A", for: "30m" }] }),
    );
    const { code, io, log } = await chaos(scenario, 600);
    console.info(`utility A lost, generator A starts, speed 600:\n${fidelityTable(log)}`);
    expect(code, `${io.stderr}\n${fidelityTable(log)}`).toBe(0);
    // No host lost power: no container was killed (only the feeds the agents report changed).
    expect(
      log.changes.filter((c) => c.kind !== "supply"),
      io.stderr,
    ).toEqual([]);
    expect(log.fidelity.rows.map((r) => r.probe).sort()).toEqual(PROBES);
    for (const row of log.fidelity.rows) expect([row.predicted.latestSeconds, row.verdict], `${row.probe}\n${fidelityTable(log)}`).toEqual([0, "ok"]);
  });

  it("PDU r1-pdu-a fails: h3 (on that PDU alone) goes dark, the dual-corded hosts stay up on feed B; the db is down for at most a failover (c)", async () => {
    const { code, io, log } = await chaos("pdu:r1-pdu-a@0/2m", 60);
    const primary = primaryOfRun(io.stderr);
    console.info(`PDU r1-pdu-a fails for 2 minutes at speed 60, db primary ${primary}:\n${fidelityTable(log)}`);
    expect(log.changes.filter((c) => c.kind !== "supply").map((c) => [c.host, c.kind])).toEqual([
      ["h3", "power-off"],
      ["h3", "power-on"],
    ]);
    expectDbLosesH3(log, primary);
    expect(code, `${io.stderr}\n${fidelityTable(log)}`).toBe(0);
    for (const row of log.fidelity.rows) expect(row.verdict, fidelityTable(log)).toBe("ok");
  });

  it("both feeds lose utility and both generators fail: everything goes dark after the UPS runtimes and comes back in the predicted order (e)", async () => {
    const chart = join(stackFile, "..", "both-feeds.html");
    const { code, io, log } = await chaos("utility:A@0/4h,utility:B@0/4h,generator:A@0,generator:B@0", 600, ["--chart", chart]);
    console.info(`both feeds lost, both generators failed, speed 600, db primary ${primaryOfRun(io.stderr)}:\n${fidelityTable(log)}`);
    expect(code, `${io.stderr}\n${fidelityTable(log)}`).toBe(0);
    // Every host went dark once and booted once.
    const hosts = (dc.plan.hosts as { id: string }[]).map((h) => h.id).sort();
    expect(
      log.changes
        .filter((c) => c.kind === "power-off")
        .map((c) => c.host)
        .sort(),
    ).toEqual(hosts);
    expect(
      log.changes
        .filter((c) => c.kind === "power-on")
        .map((c) => c.host)
        .sort(),
    ).toEqual(hosts);
    expect(log.fidelity.rows.map((r) => r.probe).sort()).toEqual(PROBES);
    for (const row of log.fidelity.rows) {
      expect(row.verdict, fidelityTable(log)).toBe("ok");
      expect(row.predicted.seconds, row.probe).toBeGreaterThan(0);
      expect(row.measured.seconds, row.probe).toBeGreaterThan(0);
      // The order of return: each service's measured return lies within the tolerance of its
      // predicted range of returns, so two services whose predicted returns are further apart
      // than that came back in the predicted order.
      const back = row.measured.down[row.measured.down.length - 1]!.to;
      const earliest = row.predicted.down[row.predicted.down.length - 1]!.to;
      const latest = row.predicted.latestDown[row.predicted.latestDown.length - 1]!.to;
      expect(back, `${row.probe} back at ${back}, predicted ${earliest}…${latest}\n${fidelityTable(log)}`).toBeGreaterThanOrEqual(
        earliest - row.toleranceSeconds,
      );
      expect(back, `${row.probe} back at ${back}, predicted ${earliest}…${latest}\n${fidelityTable(log)}`).toBeLessThanOrEqual(latest + row.toleranceSeconds);
    }
    // The chart of the run: both series for every probe.
    const html = readFileSync(chart, "utf8");
    for (const probe of PROBES) {
      expect(html, probe).toContain(`<g class="predicted" data-probe="${probe}"><rect`);
      expect(html, probe).toContain(`<g class="measured" data-probe="${probe}"><rect`);
    }
  });

  it("on Ctrl-C during an outage restores power and every container, then exits 3", async () => {
    const onHost = dc.containers.filter((c) => c.kind === "replica" && c.host === HOST).map((c) => c.name);
    // Repaired only after ten simulated hours (10 real minutes): the interrupt comes first.
    const child = spawn(process.execPath, ["bin/serverpark.js", "chaos", stackFile, "--scenario", `host:${HOST}@0/10h`], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const cut = new Promise<boolean>((resolve) => {
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
        if (stderr.includes(`${HOST} lost power`)) resolve(true);
      });
      void exited.then(() => resolve(false));
    });
    try {
      expect(await cut, `chaos ended before the cut: ${stderr}`).toBe(true);
      // Mid-outage: the host's replicas are down, its agent runs and says the host has no power.
      const mid = await states();
      for (const name of onHost) expect(mid.get(name)!.Running, name).toBe(false);
      const power = await docker("exec", dc.host(HOST).name, "node", "-e", "fetch('http://127.0.0.1:9100/power').then(r=>r.text()).then(t=>console.log(t))");
      expect(JSON.parse(power)).toMatchObject({ powered: false });
    } finally {
      child.kill("SIGINT");
      await exited;
    }
    expect(await exited, stderr).toBe(3);
    expect(stderr).toContain("SIGINT: stopping the scenario and restoring power to every host");
    expect(stderr).toContain("every container is back and healthy");
    expect(stdout).toContain(`Chaos run on ${dc.datacenter}: host:${HOST}@0s/36000s at speed 60 (interrupted)`);
    expect(stdout).toMatch(new RegExp(`^00:00:00 +\\S+ s +${HOST} +power-off +unpowered`, "m"));

    const after = await states();
    for (const [name, was] of before) {
      expect(after.get(name)!.Running, name).toBe(was.Running);
      if (was.Health?.Status === "healthy") expect(after.get(name)!.Health?.Status, name).toBe("healthy");
    }
    const power = await docker("exec", dc.host(HOST).name, "node", "-e", "fetch('http://127.0.0.1:9100/power').then(r=>r.text()).then(t=>console.log(t))");
    expect(JSON.parse(power)).toMatchObject({ powered: true });
  });
});
