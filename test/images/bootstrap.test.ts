/**
 * The shared role bootstrap (images/runtime/bootstrap.ts): exit codes and messages for each
 * kind of start-up failure, the management server it starts, and the shutdown order.
 * Exit, stderr and the shutdown trigger are injected, so everything runs in this process.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, portVar, runRole, runServer, runtimeEnv, StartupError, type BootstrapIo, type StartedRole } from "../../images/runtime";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";

const MGMT_PORT = 47410;

interface Outcome {
  readonly exits: number[];
  readonly stderr: string;
  readonly shutdown?: (reason: string) => Promise<void>;
}

const pending: ((reason: string) => Promise<void>)[] = [];
afterEach(async () => {
  // A test that started a role leaves its management server open until it is shut down.
  for (const shutdown of pending.splice(0)) await shutdown("test over");
});

async function boot(run: (io: BootstrapIo) => Promise<void>, env: Record<string, string> = {}): Promise<Outcome> {
  const exits: number[] = [];
  let stderr = "";
  let shutdown: ((reason: string) => Promise<void>) | undefined;
  await run({
    env: { SP_LOG_LEVEL: "fatal", SP_MGMT_PORT: String(MGMT_PORT), SP_MGMT_ADDRESS: "127.0.0.1", ...env },
    exit: (code) => void exits.push(code),
    stderr: (text) => void (stderr += text),
    signals: [],
    onShutdown: (fn) => {
      shutdown = fn;
      pending.push(fn);
    },
  });
  return { exits, stderr, ...(shutdown ? { shutdown } : {}) };
}

const settings = z.object({ greeting: z.string().default("hello") });
const idle = (steps: StartedRole["steps"] = []): StartedRole => ({ management: { readiness: () => ({ ready: true }) }, steps });

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "sp-bootstrap-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...STANDALONE_CONFIG, ...(content as object) }));
  return join(dir, "config.json");
}

describe("runRole start-up failures", () => {
  it("exits 2 with one message for a bad variable, before the role starts", async () => {
    let started = false;
    const outcome = await boot(
      (io) => runRole({ name: "demo", env: { SP_DEMO_PORT: portVar(80) }, settings, start: async () => ((started = true), idle()) }, io),
      { SP_DEMO_PORT: "http" },
    );
    expect(outcome.exits).toEqual([2]);
    expect(outcome.stderr).toBe('invalid configuration:\n  - SP_DEMO_PORT: expected a port number (1-65535) (got "http")\n');
    expect(started).toBe(false);
  });

  it("exits 2 naming the bad setting in the replica config", async () => {
    const outcome = await boot((io) => runRole({ name: "demo", env: {}, settings, start: async () => idle() }, io), {
      SP_CONFIG: configFile({ settings: { greeting: 5 } }),
    });
    expect(outcome.exits).toEqual([2]);
    expect(outcome.stderr).toMatch(/^invalid configuration:\n {2}- settings\.greeting: .*string/);
  });

  it("exits 2 when a named replica config is missing", async () => {
    const outcome = await boot((io) => runRole({ name: "demo", env: {}, settings, start: async () => idle() }, io), { SP_CONFIG: "/nonexistent/config.json" });
    expect(outcome.exits).toEqual([2]);
    expect(outcome.stderr).toContain("cannot read the replica config /nonexistent/config.json: ENOENT");
  });

  it("prints a StartupError verbatim with its own exit code, and a ConfigError from start as a config error", async () => {
    const coded = await boot((io) =>
      runRole(
        {
          name: "demo",
          env: {},
          settings,
          start: async () => {
            throw new StartupError("demo: no such thing", 7);
          },
        },
        io,
      ),
    );
    expect(coded).toMatchObject({ exits: [7], stderr: "demo: no such thing\n" });
    const config = await boot((io) =>
      runRole(
        {
          name: "demo",
          env: {},
          settings,
          start: async () => {
            throw new ConfigError(["SP_SECRET_FILE: missing"]);
          },
        },
        io,
      ),
    );
    expect(config).toMatchObject({ exits: [2], stderr: "invalid configuration:\n  - SP_SECRET_FILE: missing\n" });
  });

  it("exits 1 with the stack for anything else", async () => {
    const outcome = await boot((io) =>
      runRole(
        {
          name: "demo",
          env: {},
          settings,
          start: async () => {
            throw new Error("port in use");
          },
        },
        io,
      ),
    );
    expect(outcome.exits).toEqual([1]);
    expect(outcome.stderr).toMatch(/^demo failed to start: Error: port in use\n {4}at /);
  });
});

describe("runRole once started", () => {
  it("hands the role its parsed variables, settings and replica default, and serves its readiness", async () => {
    let seen: unknown;
    const outcome = await boot(
      (io) =>
        runRole(
          {
            name: "demo",
            env: { SP_DEMO_PORT: portVar(80) },
            settings,
            start: async ({ env, config }) => {
              seen = { port: env.SP_DEMO_PORT, replica: env.SP_REPLICA, greeting: config.settings.greeting, service: config.service };
              return { management: { readiness: () => ({ ready: false, details: { why: "warming up" } }) } };
            },
          },
          io,
        ),
      { SP_DEMO_PORT: "8081", SP_CONFIG: configFile({ service: "demo", settings: {} }) },
    );
    expect(outcome.exits).toEqual([]);
    expect(seen).toEqual({ port: 8081, replica: "demo-0", greeting: "hello", service: "demo" });
    const health = await fetch(`http://127.0.0.1:${MGMT_PORT}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "unavailable", why: "warming up" });
  });

  const reachable = () =>
    fetch(`http://127.0.0.1:${MGMT_PORT}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );

  it.each([
    [false, true],
    [true, false],
  ])("runs the role's steps in order (management first: %s, still answering in them: %s) and exits 0", async (managementFirst, answering) => {
    const ran: string[] = [];
    const step = (name: string) => ({ name, run: async () => void ran.push(`${name}:${await reachable()}`) });
    const outcome = await boot((io) =>
      runRole({ name: "demo", env: {}, settings, start: async () => ({ ...idle([step("first"), step("second")]), managementFirst }) }, io),
    );
    expect(await reachable()).toBe(true);
    await outcome.shutdown!("SIGTERM");
    expect(ran).toEqual([`first:${answering}`, `second:${answering}`]);
    expect(await reachable()).toBe(false);
    expect(outcome.exits).toEqual([0]);
  });
});

describe("runServer", () => {
  it("parses the whole schema it is given and uses its bindings", async () => {
    let bound: unknown;
    const outcome = await boot(
      (io) =>
        runServer(
          {
            name: "agent",
            env: z.object({ ...runtimeEnv, SP_HOST_ID: z.string() }),
            bindings: (env) => (bound = { host: env.SP_HOST_ID }) as Record<string, unknown>,
            start: async () => idle(),
          },
          io,
        ),
      { SP_HOST_ID: "h1" },
    );
    expect(outcome.exits).toEqual([]);
    expect(bound).toEqual({ host: "h1" });
  });
});
