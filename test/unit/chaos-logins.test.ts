/**
 * The chaos probes that prove service, against our real servers in this process: an IMAP
 * LOGIN (mail role), an SFTP login and home-folder listing (file role) and a db session that
 * can write (real PostgreSQL 15; a read-only session, as on a standby, is down) — up with the
 * right password, down with a wrong one — and where
 * their passwords come from (cli/chaos/secrets.ts): `serverpark lab` state, a Pulumi export,
 * a --secrets file, named as the role hooks name the resources.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPlan } from "../../cli/stack";
import { PROBE_SCRIPT, startPrivateProber, type PrivateTarget } from "../../cli/chaos/probes/private";
import { imapLogin, oneLoginAtATime, SkippedError } from "../../cli/chaos/probes/protocols";
import { Sampler } from "../../cli/chaos/measure";
import { createServer, type AddressInfo } from "node:net";
import { datacenterProbes } from "../../cli/chaos/probes";
import { passwordsOfExport, probeLogins, secretsFromFile, secretsFromLab } from "../../cli/chaos/secrets";
import type { DbApp } from "../../images/db/src/app";
import { startTestFiles, PASSWORDS as FILE_PASSWORDS } from "../file/support";
import { DOMAIN, PASSWORDS as MAIL_PASSWORDS, startTestMail, type TestMail } from "../mail/support";
import { havePostgres, PASSWORD as DB_PASSWORD, testDb } from "../db/support";
import { scramSha256Verifier } from "../../contracts/credentials/scram";

const DB_PORT = 47381;
const READ_ONLY_PASSWORD = "noc-read-only-1";

describe("IMAP LOGIN over TLS (our mail role)", () => {
  let mail: TestMail | undefined;
  beforeAll(async () => {
    mail = await startTestMail();
  });
  afterAll(async () => {
    await mail?.app.close();
  });

  it("up when the server accepts the login; down, with the server's words and not the password, when it refuses", async () => {
    const endpoint = { host: "127.0.0.1", port: mail!.app.ports.imaps };
    await expect(imapLogin(`mail.${DOMAIN}`, "alice", MAIL_PASSWORDS.alice)(endpoint, AbortSignal.timeout(10_000))).resolves.toBeUndefined();
    const refused = imapLogin(`mail.${DOMAIN}`, "alice", "wrong-password-x")(endpoint, AbortSignal.timeout(10_000));
    await expect(refused).rejects.toThrow(/^login: NO/);
    await expect(refused).rejects.not.toThrow(/wrong-password-x/);
  });
});

describe("one login at a time", () => {
  it("a tick that finds the previous login under way records nothing; a refused server is down at once", async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = { host: "127.0.0.1", port: (server.address() as AddressInfo).port };
    let inFlight = 0;
    let most = 0;
    let logins = 0;
    const slowLogin = oneLoginAtATime(async () => {
      logins++;
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 400));
      inFlight--;
    });
    const sampler = new Sampler([{ probe: "mail/imap-login", service: "mail", timeoutMs: 2000, check: (signal) => slowLogin(endpoint, signal) }], 50);
    sampler.start();
    await new Promise((r) => setTimeout(r, 1000));
    await sampler.stop();
    expect(most).toBe(1);
    expect(logins).toBeGreaterThanOrEqual(2);
    // Every sample is a finished login (ok); the skipped ticks left none.
    expect(sampler.samples.length).toBe(logins);
    expect(sampler.samples.every((s) => s.ok)).toBe(true);
    await expect(slowLogin(endpoint, AbortSignal.timeout(2000)).then(() => slowLogin(endpoint, AbortSignal.timeout(2000)))).resolves.toBeUndefined();
    await new Promise((resolve) => server.close(resolve));
    await expect(slowLogin(endpoint, AbortSignal.timeout(2000))).rejects.toThrow(/ECONNREFUSED/);
    const concurrent = [slowLogin, slowLogin].map((f) => f({ ...endpoint }, AbortSignal.timeout(2000)).catch((e: Error) => e));
    expect((await Promise.all(concurrent)).every((e) => e instanceof Error && !(e instanceof SkippedError))).toBe(true);
  });
});

describe("the private prober's logins", () => {
  const files: { app?: { close(): Promise<void>; sftpPort: number } } = {};
  let db: DbApp | undefined;
  let dbCa: string | undefined;
  const pg = havePostgres();
  beforeAll(async () => {
    files.app = (await startTestFiles()).app;
    if (pg) {
      // The NOC's monitoring login is read-only (default_transaction_read_only): a session that cannot write, as on a standby.
      const made = testDb(DB_PORT, {}, { user: "noc", database: "app", verifier: scramSha256Verifier(READ_ONLY_PASSWORD, randomBytes(16)) });
      dbCa = readFileSync(made.caFile, "utf8");
      db = await made.start();
    }
  }, 120_000);
  afterAll(async () => {
    await files.app?.close();
    await db?.close();
  });

  it("SFTP: logs in and lists the home folder; a wrong password is down", async () => {
    const targets: PrivateTarget[] = [
      { probe: "files/sftp-login", kind: "sftp-login", host: "127.0.0.1", port: files.app!.sftpPort, user: "alice" },
      { probe: "bad/sftp-login", kind: "sftp-login", host: "127.0.0.1", port: files.app!.sftpPort, user: "bob" },
      ...(pg
        ? ([
            { probe: "db/query", kind: "postgres-query", host: "127.0.0.1", port: DB_PORT, user: "app", database: "app" },
            // An HA db's probe has a target per data node: the prober is ready once every probe sampled, not every target.
            { probe: "db/query", kind: "postgres-query", host: "localhost", port: DB_PORT, user: "app", database: "app" },
            { probe: "baddb/query", kind: "postgres-query", host: "127.0.0.1", port: DB_PORT, user: "app", database: "app" },
            { probe: "rodb/query", kind: "postgres-query", host: "127.0.0.1", port: DB_PORT, user: "noc", database: "app" },
          ] as PrivateTarget[])
        : []),
    ];
    const passwords = {
      "files/sftp-login": FILE_PASSWORDS.alice,
      "bad/sftp-login": "not-bobs",
      "db/query": DB_PASSWORD,
      "baddb/query": "nope",
      "rodb/query": READ_ONLY_PASSWORD,
    };
    const options = { name: "t", network: "n", address: "a", image: "i", targets, intervalMs: 300, timeoutMs: 8000, passwords, ...(dbCa ? { ca: dbCa } : {}) };
    // The passwords go over stdin: the command line carries none.
    const args = ["-e", PROBE_SCRIPT, JSON.stringify(targets), "300", "8000"];
    expect(args.join(" ")).not.toContain(FILE_PASSWORDS.alice);
    const prober = startPrivateProber(options, { file: process.execPath, args });
    try {
      await prober.ready;
      while (targets.some((t) => prober.samples.filter((s) => s.probe === t.probe).length < 2)) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await prober.stop();
    }
    const verdicts = (probe: string) => new Set(prober.samples.filter((s) => s.probe === probe).map((s) => s.ok));
    expect(verdicts("files/sftp-login"), JSON.stringify(prober.samples.filter((s) => !s.ok && s.probe === "files/sftp-login").slice(0, 3))).toEqual(
      new Set([true]),
    );
    expect(verdicts("bad/sftp-login")).toEqual(new Set([false]));
    expect(prober.samples.find((s) => s.probe === "bad/sftp-login")?.why).toBe("login refused");
    if (pg) {
      expect(verdicts("db/query")).toEqual(new Set([true]));
      expect(verdicts("baddb/query")).toEqual(new Set([false]));
      expect(prober.samples.find((s) => s.probe === "baddb/query")?.why).toBe("SQLSTATE 28P01");
      // Logged in, but the session cannot write: not the primary a client needs.
      expect(verdicts("rodb/query")).toEqual(new Set([false]));
      expect(prober.samples.find((s) => s.probe === "rodb/query")?.why).toBe("read-only (a standby)");
    }
  }, 60_000);
});

describe("an HA db probe whose primary is slow to log in", () => {
  it("records nothing from the rounds in which one data node's login is still under way: the other's failure (a standby's read-only, a refusal) decides nothing", async () => {
    // The "primary": accepts and never answers, so each login lasts until the timeout and the rounds in between find it under way.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    // The "standby": a port that refuses at once.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const targets: PrivateTarget[] = [
      { probe: "db/query", kind: "postgres-query", host: "127.0.0.1", port: (silent.address() as AddressInfo).port, user: "app", database: "app" },
      { probe: "db/query", kind: "postgres-query", host: "127.0.0.1", port: closedPort, user: "app", database: "app" },
    ];
    const options = {
      name: "t",
      network: "n",
      address: "a",
      image: "i",
      targets,
      intervalMs: 200,
      timeoutMs: 2000,
      passwords: { "db/query": "x" },
      ca: "not used",
    };
    const prober = startPrivateProber(options, { file: process.execPath, args: ["-e", PROBE_SCRIPT, JSON.stringify(targets), "200", "2000"] });
    try {
      await prober.ready; // the first round's samples, once the silent login timed out
      await new Promise((r) => setTimeout(r, 1500)); // seven more rounds, all with the silent login under way
    } finally {
      await prober.stop();
      silent.close();
    }
    const rounds = new Set(prober.samples.map((s) => s.round));
    // Only rounds whose every login finished: the first, and at most one more that began as it timed out.
    expect(rounds.size, JSON.stringify(prober.samples)).toBeLessThanOrEqual(2);
    expect(prober.samples.every((s) => !s.ok)).toBe(true);
    expect(prober.samples.map((s) => s.why)).toContain("timeout");
  }, 30_000);
});

describe("the deployment's passwords", () => {
  const { plan } = loadPlan("local", process.cwd());
  const names = { db: "fra1-svc-db-app-password", mail: "fra1-svc-mail-user-postmaster", files: "fra1-svc-files-user-files" };

  it("from `serverpark lab` state: the generated password under each role hook's resource name", () => {
    const root = mkdtempSync(join(tmpdir(), "sp-chaos-secrets-"));
    mkdirSync(join(root, ".serverpark", "lab"), { recursive: true });
    const output = (value: string) => ({ inputs: "x", values: { result: value } });
    writeFileSync(
      join(root, ".serverpark", "lab", "local.json"),
      JSON.stringify({
        version: 1,
        stack: "local",
        outputs: {
          [`random:index/randomPassword:RandomPassword::${names.db}`]: output("db-pass"),
          [`random:index/randomPassword:RandomPassword::${names.mail}`]: output("mail-pass"),
          [`random:index/randomPassword:RandomPassword::${names.files}`]: output("files-pass"),
        },
      }),
    );
    const logins = probeLogins(plan, secretsFromLab(root, "local"));
    expect(Object.fromEntries(logins)).toEqual({
      db: { user: "app", database: "app", password: "db-pass" },
      mail: { user: "postmaster", password: "mail-pass" },
      files: { user: "files", password: "files-pass" },
    });
    expect(secretsFromLab(root, "other")).toBeUndefined();
    // The probes: logins by name, the passwords kept apart from the targets.
    const published = new Map(
      plan.replicas.map((r) => [r.id, new Map(r.published.map((p) => [`${p.port}/${p.protocol}`, { host: "127.0.0.1", port: p.port }]))]),
    );
    const set = datacenterProbes(plan, published, logins);
    expect(set.public.map((p) => p.probe)).toContain("mail/imap-login");
    // One db probe, asked of both data nodes of the HA group (up while either answers read-write).
    expect(set.private.map((t) => [t.probe, t.kind, t.user])).toEqual([
      ["files/sftp-login", "sftp-login", "files"],
      ["db/query", "postgres-query", "app"],
      ["db/query", "postgres-query", "app"],
    ]);
    expect(JSON.stringify(set.private)).not.toContain("pass");
    expect(set.passwords).toEqual({ "files/sftp-login": "files-pass", "db/query": "db-pass" });
  });

  it("without them, each probe stops at its handshake and says so by its name", () => {
    const published = new Map(
      plan.replicas.map((r) => [r.id, new Map(r.published.map((p) => [`${p.port}/${p.protocol}`, { host: "127.0.0.1", port: p.port }]))]),
    );
    const set = datacenterProbes(plan, published, probeLogins(plan, undefined));
    expect(set.public.map((p) => p.probe)).toContain("mail/imaps");
    expect(set.private.map((t) => t.probe)).toEqual(["files/sftp", "db/postgres", "db/postgres"]);
    expect(set.passwords).toEqual({});
  });

  it("from a Pulumi export (--show-secrets gives plain values; encrypted ones are skipped) and from a --secrets file", () => {
    const exported = {
      deployment: {
        resources: [
          {
            type: "random:index/randomPassword:RandomPassword",
            urn: `urn:pulumi:local::serverpark::serverpark:datacenter:Service$random:index/randomPassword:RandomPassword::${names.db}`,
            outputs: { result: "p1" },
          },
          {
            type: "random:index/randomPassword:RandomPassword",
            urn: `urn:pulumi:local::serverpark::x$random:index/randomPassword:RandomPassword::${names.mail}`,
            outputs: { result: { ciphertext: "…" } },
          },
          { type: "random:index/randomBytes:RandomBytes", urn: "urn:pulumi:local::serverpark::x::salt", outputs: { result: "nope" } },
        ],
      },
    };
    expect(Object.fromEntries(passwordsOfExport(exported))).toEqual({ [names.db]: "p1" });
    const file = join(mkdtempSync(join(tmpdir(), "sp-chaos-secrets-")), "secrets.json");
    writeFileSync(file, JSON.stringify({ [names.files]: "f" }));
    expect(Object.fromEntries(probeLogins(plan, secretsFromFile(file)))).toEqual({ files: { user: "files", password: "f" } });
  });
});
