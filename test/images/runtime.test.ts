/** The shared server runtime: config errors, management endpoints, shutdown, TLS reload. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { Counter } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ConfigError, jsonVar, parseConfig, portVar, runtimeEnv } from "../../images/runtime/config";
import { createLogger } from "../../images/runtime/log";
import { HttpError, startManagementServer, type ManagementServer } from "../../images/runtime/management";
import { closeServerStep, installShutdown } from "../../images/runtime/shutdown";
import { createReloadingTls } from "../../images/runtime/tls";

const log = createLogger({ role: "test", level: "silent" });

describe("parseConfig", () => {
  const schema = z.object({
    ...runtimeEnv,
    SP_PORT: portVar(8080),
    SP_MODE: z.enum(["a", "b"]),
    SP_LIST: jsonVar(z.array(z.object({ id: z.string() })), '[{"id":"x"}]'),
    SP_DB_PASSWORD: z.string().min(12, "expected at least 12 characters"),
  });
  const good = { SP_MODE: "a", SP_LIST: '[{"id":"x"}]', SP_DB_PASSWORD: "correct horse battery" };

  it("applies defaults and freezes the result", () => {
    const config = parseConfig(schema, good);
    expect(config).toMatchObject({ SP_PORT: 8080, SP_MGMT_PORT: 9100, SP_LISTEN: "0.0.0.0", SP_LOG_LEVEL: "info", SP_LIST: [{ id: "x" }] });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("names every bad variable at once, hides secrets, treats empty as unset", () => {
    const error = (() => {
      try {
        parseConfig(schema, { SP_PORT: "70000", SP_MODE: "", SP_LIST: '[{"id":1}]', SP_DB_PASSWORD: "short", SP_MGMT_PORT: "x" });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual([
      'SP_MGMT_PORT: expected a port number (1-65535) (got "x")',
      'SP_PORT: expected a port number (1-65535) (got "70000")',
      'SP_MODE is not set; expected one of "a"|"b"',
      'SP_LIST[0].id: expected string, received number (got "1")',
      "SP_DB_PASSWORD: expected at least 12 characters (value hidden)",
    ]);
  });

  it("stops the process with exit code 2 and one message", () => {
    const script = `
      const { z } = require("zod");
      const { loadConfig } = require(${JSON.stringify(join(__dirname, "../../images/runtime/config.ts"))});
      loadConfig(z.object({ SP_NEEDED: z.string() }), {});`;
    let status = 0;
    let stderr = "";
    try {
      execFileSync(process.execPath, ["--import", "tsx", "-e", script], { stdio: "pipe", cwd: join(__dirname, "../..") });
    } catch (e) {
      status = (e as { status: number }).status;
      stderr = String((e as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr.trim()).toBe("invalid configuration:\n  - SP_NEEDED is not set; expected string");
  });
});

describe("management server", () => {
  let server: ManagementServer | undefined;
  afterEach(async () => server?.close());

  it("serves /healthz from the readiness check, /metrics and role routes", async () => {
    let ready = true;
    const counter = new Counter({ name: "test_requests_total", help: "test", registers: [] });
    server = await startManagementServer({
      port: 0,
      host: "127.0.0.1",
      log,
      readiness: () => ({ ready, details: { checked: true } }),
      routes: [
        { method: "GET", path: "/hello", handler: () => ({ status: 200, body: { hi: true } }) },
        {
          method: "POST",
          path: "/echo",
          handler: ({ body }) => {
            if (!body) throw new HttpError(400, "empty body");
            return { status: 201, body };
          },
        },
      ],
    });
    server.registry.registerMetric(counter);
    counter.inc();
    const url = (path: string) => `http://127.0.0.1:${server!.port}${path}`;

    let res = await fetch(url("/healthz"));
    expect([res.status, await res.json()]).toEqual([200, { status: "ok", checked: true }]);
    ready = false;
    res = await fetch(url("/healthz"));
    expect([res.status, await res.json()]).toEqual([503, { status: "unavailable", checked: true }]);

    const metrics = await (await fetch(url("/metrics"))).text();
    expect(metrics).toContain("test_requests_total 1");
    expect(metrics).toContain("process_cpu_user_seconds_total");

    expect((await fetch(url("/hello"))).status).toBe(200);
    res = await fetch(url("/echo"), { method: "POST", body: '{"a":1}' });
    expect([res.status, await res.json()]).toEqual([201, { a: 1 }]);
    res = await fetch(url("/echo"), { method: "POST", body: "{nope" });
    expect([res.status, await res.json()]).toEqual([400, { error: "body is not valid JSON" }]);
    res = await fetch(url("/echo"), { method: "POST" });
    expect([res.status, await res.json()]).toEqual([400, { error: "empty body" }]);
    res = await fetch(url("/echo"));
    expect([res.status, res.headers.get("allow")]).toEqual([405, "POST"]);
    expect((await fetch(url("/nothing"))).status).toBe(404);
  });

  it("answers 503 when the readiness check throws or hangs", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    server = await startManagementServer({ port: 0, host: "127.0.0.1", log, readiness: () => new Promise(() => {}) });
    const pending = fetch(`http://127.0.0.1:${server.port}/healthz`);
    await vi.waitFor(() => expect(vi.getTimerCount()).toBeGreaterThan(0));
    vi.advanceTimersByTime(2_000);
    vi.useRealTimers();
    const res = await pending;
    expect([res.status, await res.json()]).toEqual([503, { status: "unavailable", error: "readiness check took over 2000 ms" }]);
  });
});

describe("graceful shutdown", () => {
  it("stops accepting, lets an in-flight request finish, then exits 0", async () => {
    let arrived = false;
    let release = () => {};
    const http = createServer((_, res) => {
      arrived = true;
      release = () => res.end("done");
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const port = (http.address() as { port: number }).port;
    const exit = vi.fn();
    const shutdown = installShutdown({ log, steps: [closeServerStep("http", http)], exit, deadlineMs: 5_000, signals: [] });

    const inFlight = fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    await vi.waitFor(() => expect(arrived).toBe(true));
    const done = shutdown("test");
    await vi.waitFor(() => expect(http.listening).toBe(false));
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    expect(exit).not.toHaveBeenCalled();
    release();
    expect(await inFlight).toBe("done");
    await done;
    expect(exit).toHaveBeenCalledWith(0);
  });

  it("exits 1 when the drain outlasts the deadline", async () => {
    const exit = vi.fn();
    const stuck = { name: "stuck", run: () => new Promise<void>(() => {}) };
    const shutdown = installShutdown({ log, steps: [stuck], exit, deadlineMs: 50, signals: [] });
    await shutdown("test");
    expect(exit).toHaveBeenCalledWith(1);
  });
});

describe("TLS from mounted files", () => {
  const makeCert = (dir: string, cn: string) => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        `/CN=${cn}`,
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "pipe" },
    );
  };

  it("loads, reloads on request and keeps the old context on a bad renewal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-tls-"));
    makeCert(dir, "one.test");
    const tls = await createReloadingTls({ certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") }, log);
    const first = tls.current();
    expect(tls.material().cert.toString()).toContain("BEGIN CERTIFICATE");

    makeCert(dir, "two.test");
    await tls.reload();
    expect(tls.current()).not.toBe(first);

    const good = tls.current();
    writeFileSync(join(dir, "key.pem"), "not a key");
    await expect(tls.reload()).rejects.toThrow();
    expect(tls.current()).toBe(good);
    await expect(createReloadingTls({ certFile: join(dir, "missing.pem"), keyFile: join(dir, "key.pem") }, log)).rejects.toThrow(
      /cannot read TLS certificate .*missing\.pem: ENOENT/,
    );
  });
});
