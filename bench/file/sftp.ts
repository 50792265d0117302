/**
 * SFTP benchmark: upload and download throughput of one large file and of many small files,
 * our file role (SFTP on ssh2, bench/file/server.ts) vs OpenSSH's sshd with internal-sftp
 * (the same code as /usr/lib/openssh/sftp-server), side by side with the ratios.
 *
 * Same client for both: OpenSSH's `sftp -b <batch>` with the same cipher
 * (aes128-gcm@openssh.com, offered by both; ssh2 does it with node:crypto) and the default
 * 64 requests in flight and, by default, 255 KiB requests (both servers offer limits@openssh.com;
 * ours since images/file/src/sftpLimits.ts) unless --request sets a size. Ours authenticates by password
 * (sshpass: it offers nothing else), OpenSSH by a throw-away key (no system account or
 * password is touched: it logs in as root, forced into internal-sftp in a temporary folder).
 * Every case is a whole `sftp` run, connection and login included; the "session" row is
 * that fixed cost alone (connect, key exchange, login, `pwd`). For the session and the large
 * download the servers' CPU time is printed too (from /proc: our process; sshd's reaped
 * per-connection processes), the work without the waiting for a core on a busy machine.
 *
 * Durability differs and is shown, not hidden: ours fsyncs every upload (file, then its
 * folder) before it answers CLOSE; OpenSSH's sftp-server does not unless the client asks
 * with `put -f` (the fsync@openssh.com extension: the file only). So OpenSSH uploads are
 * measured both ways, and the ratio against `put -f` is the like-for-like one.
 *
 * Every transfer is checked (SHA-256 of the large file, names and contents of the small
 * ones, on the server and after download); the run fails on any difference.
 *
 * Usage (root; bash bench/file/setup.sh first):
 *   npx tsx bench/file/sftp.ts [largeMiB=128] [smallFiles=100] [smallKiB=4] [--profile] [--nodelay] [--request=<bytes>] [--heap=<MB>]
 * --profile writes a V8 CPU profile of our server (open it in Chrome DevTools); --nodelay
 * turns Nagle's algorithm off on our server's sockets, an experiment the image does not do.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { recordResult } from "../summary";

const run = promisify(execFile);
const ROOT = join(__dirname, "..", "..");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const PROFILE = process.argv.includes("--profile");
/** Experiment: Nagle off on our server's sockets (the image leaves it on; see README.md). */
const NODELAY = process.argv.includes("--nodelay");
/**
 * --request=<bytes>: the sftp client's request size for both servers (`sftp -B`). Without it the
 * client asks each server for its limits (limits@openssh.com: 255 KiB READs and WRITEs from both).
 */
/**
 * --heap=<MB>: V8's initial heap size for our server (`--initial-heap-size`). Experiment, not how
 * the image runs: with V8's default a download's garbage starts 6–12 major GCs (README.md).
 */
const HEAP = process.argv.find((a) => a.startsWith("--heap="))?.slice("--heap=".length);
const REQUEST = process.argv.find((a) => a.startsWith("--request="))?.slice("--request=".length);
const LARGE_MIB = Number(args[0] ?? 128);
const SMALL_FILES = Number(args[1] ?? 100);
const SMALL_KIB = Number(args[2] ?? 4);
const OURS_PORT = 47621;
const OPENSSH_PORT = 47622;
const CIPHER = "aes128-gcm@openssh.com";
const PASSWORD = randomBytes(12).toString("hex");

function requireTools(): void {
  const missing = ["/usr/sbin/sshd", "/usr/bin/sftp", "/usr/bin/sshpass", "/usr/bin/ssh-keygen"].filter((t) => !existsSync(t));
  if (missing.length > 0) {
    console.error(`missing: ${missing.join(", ")} — run bash bench/file/setup.sh (installs openssh-server, sshpass from Debian)`);
    process.exit(2);
  }
  if (userInfo().uid !== 0) {
    console.error("needs root: sshd only runs as root, and the OpenSSH side logs in as root with a throw-away key");
    process.exit(2);
  }
}

const children: ChildProcess[] = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGTERM")));
// Ctrl-C or a kill still runs the exit handlers (children stopped, temporary folder removed).
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));

async function waitPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** Our server as a child process; resolves once it listens. */
async function startOurs(dataDir: string, profileDir: string): Promise<ChildProcess> {
  const flags = [...(PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), ...(HEAP ? [`--initial-heap-size=${Number(HEAP)}`] : [])];
  const child = spawn(NODE, [...flags, "--import", "tsx", join(__dirname, "server.ts"), dataDir], {
    cwd: ROOT,
    env: { ...process.env, SP_BENCH_PASSWORD: PASSWORD, SP_BENCH_PORT: String(OURS_PORT), SP_BENCH_NODELAY: NODELAY ? "1" : "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes('"port"')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`our file server exited with ${code} before listening`)));
  });
  await waitPort(OURS_PORT);
  return child;
}

/** sshd with a throw-away host key, one authorized key for root, forced into internal-sftp in `root`. */
async function startOpenSsh(dir: string, root: string): Promise<{ child: ChildProcess; key: string }> {
  const hostKey = join(dir, "ssh_host_ed25519_key");
  const key = join(dir, "client_ed25519");
  await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${key}.pub`), { mode: 0o600 });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1:${OPENSSH_PORT}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "AllowUsers root",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "LogLevel ERROR",
      "Subsystem sftp internal-sftp",
      `ForceCommand internal-sftp -d ${root}`,
    ].join("\n") + "\n",
  );
  await run("/usr/sbin/sshd", ["-t", "-f", config]);
  // sshd's log (e.g. the probe connection of waitPort) goes to a file, read on failure only.
  const log = openSync(join(dir, "sshd.log"), "a");
  const child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", log, log] });
  child.once("exit", (code) => code !== null && code !== 0 && console.error(`sshd exited ${code}: ${readFileSync(join(dir, "sshd.log"), "utf8")}`));
  children.push(child);
  await waitPort(OPENSSH_PORT);
  return { child, key };
}

interface Side {
  readonly name: string;
  /** Where uploads land on the server. */
  readonly serverDir: string;
  command(batch: string): [string, string[]];
}

const COMMON = [
  "-c",
  CIPHER,
  ...(REQUEST ? ["-B", REQUEST] : []),
  "-oStrictHostKeyChecking=no",
  "-oUserKnownHostsFile=/dev/null",
  "-oLogLevel=ERROR",
  "-oConnectTimeout=10",
];

/** Seconds for one `sftp -b` run of `commands` in `cwd`; throws with sftp's output on failure. */
async function timed(side: Side, cwd: string, commands: string[]): Promise<number> {
  const batch = join(cwd, `batch-${side.name}`);
  writeFileSync(batch, `${commands.join("\n")}\n`);
  const [cmd, argv] = side.command(batch);
  const started = performance.now();
  try {
    await run(cmd, argv, { cwd, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${side.name}: sftp ${commands.join("; ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
  return (performance.now() - started) / 1000;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** One digest over the sorted names and contents of the files in `dir` (flat). */
function treeDigest(dir: string): string {
  const hash = createHash("sha256");
  const names = readdirSync(dir).sort();
  for (const name of names) hash.update(`${name}\0`).update(readFileSync(join(dir, name)));
  return `${names.length}:${hash.digest("hex")}`;
}

function check(what: string, got: string, want: string): void {
  if (got !== want) throw new Error(`${what}: content differs (${got.slice(0, 24)} vs ${want.slice(0, 24)})`);
}

/**
 * CPU seconds (user + system) a server has used so far, from /proc: our server's own process,
 * and for sshd its reaped children (the per-connection processes that run internal-sftp).
 * Less sensitive to a busy machine than MB/s: it is the work, not the waiting for a core.
 */
function serverCpu(ours: ChildProcess, sshd: ChildProcess, clockTicks: number): { ours: number; openssh: number } {
  const fields = (pid: number) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ").map(Number);
  const o = fields(ours.pid!);
  const s = fields(sshd.pid!);
  // After "comm)": [11] utime, [12] stime, [13] cutime, [14] cstime (proc(5) fields 14–17).
  return { ours: (o[11]! + o[12]!) / clockTicks, openssh: (s[13]! + s[14]!) / clockTicks };
}

/** write(2)/writev(2) calls our server has made so far (/proc/<pid>/io syscw). */
function oursWrites(ours: ChildProcess): number {
  return Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${ours.pid!}/io`, "utf8"))?.[1] ?? NaN);
}

interface Row {
  readonly label: string;
  readonly unit: string;
  readonly ours: number;
  readonly openssh: number;
  readonly opensshFsync?: number;
}

async function main(): Promise<void> {
  requireTools();
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-sftp-"));
  // Removed however the run ends (the inputs alone are hundreds of MB).
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const local = join(dir, "local");
  const small = join(local, "small");
  mkdirSync(small, { recursive: true });
  for (const d of ["ours-data", "openssh-root", "profile", "down-ours", "down-openssh"]) mkdirSync(join(dir, d));
  const largeBytes = LARGE_MIB * 1024 * 1024;
  const smallBytes = SMALL_KIB * 1024;
  // Random content: nothing on the way may compress it.
  const large = join(local, "large.bin");
  writeFileSync(large, randomBytes(largeBytes));
  for (let i = 0; i < SMALL_FILES; i++) writeFileSync(join(small, `f${String(i).padStart(5, "0")}.bin`), randomBytes(smallBytes));
  const largeHash = await sha256(large);
  const smallHash = treeDigest(small);

  const oursChild = await startOurs(join(dir, "ours-data"), join(dir, "profile"));
  const openssh = await startOpenSsh(dir, join(dir, "openssh-root"));
  const ours: Side = {
    name: "ours",
    serverDir: join(dir, "ours-data", "users", "bench", "files"),
    command: (batch) => [
      "/usr/bin/sshpass",
      [
        "-p",
        PASSWORD,
        "/usr/bin/sftp",
        ...COMMON,
        "-oBatchMode=no",
        "-oPreferredAuthentications=password",
        "-oPubkeyAuthentication=no",
        "-P",
        String(OURS_PORT),
        "-b",
        batch,
        "bench@127.0.0.1",
      ],
    ],
  };
  const reference: Side = {
    name: "openssh",
    serverDir: join(dir, "openssh-root"),
    command: (batch) => [
      "/usr/bin/sftp",
      [...COMMON, "-i", openssh.key, "-oIdentitiesOnly=yes", "-oPreferredAuthentications=publickey", "-P", String(OPENSSH_PORT), "-b", batch, "root@127.0.0.1"],
    ],
  };

  console.log(
    `sftp (OpenSSH client, ${CIPHER}${REQUEST ? `, -B ${REQUEST}` : ""}), one ${LARGE_MIB} MiB file and ${SMALL_FILES} × ${SMALL_KIB} KiB files; ours vs OpenSSH sshd + internal-sftp`,
  );
  // Dirty pages from making the inputs would otherwise be written back during the first upload.
  await run("sync");
  const rows: Row[] = [];
  const clockTicks = Number((await run("getconf", ["CLK_TCK"])).stdout.trim());
  const settle = () => new Promise((r) => setTimeout(r, 500)); // sshd reaps the connection's processes
  const cpuSession = serverCpu(oursChild, openssh.child, clockTicks);
  const session = { ours: await timed(ours, local, ["pwd"]), openssh: await timed(reference, local, ["pwd"]) };
  await settle();
  const cpuSessionEnd = serverCpu(oursChild, openssh.child, clockTicks);
  rows.push({ label: "session (connect, login, pwd)", unit: "s", ...session });
  // Ours checks a password with scrypt, OpenSSH a key: part of every case's CPU below.
  rows.push({
    label: "session, server CPU",
    unit: "ms",
    ours: (cpuSessionEnd.ours - cpuSession.ours) * 1000,
    openssh: (cpuSessionEnd.openssh - cpuSession.openssh) * 1000,
  });

  // Large file: upload, then (OpenSSH) upload with fsync, then download; every result checked.
  const up = { ours: await timed(ours, local, ["put large.bin"]), openssh: await timed(reference, local, ["put large.bin"]) };
  const upFsync = await timed(reference, local, ["put -f large.bin large-fsync.bin"]);
  check("ours upload", await sha256(join(ours.serverDir, "large.bin")), largeHash);
  check("openssh upload", await sha256(join(reference.serverDir, "large.bin")), largeHash);
  check("openssh upload -f", await sha256(join(reference.serverDir, "large-fsync.bin")), largeHash);
  await run("sync");
  const cpuBefore = serverCpu(oursChild, openssh.child, clockTicks);
  const writesBefore = oursWrites(oursChild);
  const down = {
    ours: await timed(ours, local, [`get large.bin ${join(dir, "down-ours", "large.bin")}`]),
    openssh: await timed(reference, local, [`get large.bin ${join(dir, "down-openssh", "large.bin")}`]),
  };
  await settle();
  const cpuAfter = serverCpu(oursChild, openssh.child, clockTicks);
  const writes = oursWrites(oursChild) - writesBefore;
  check("ours download", await sha256(join(dir, "down-ours", "large.bin")), largeHash);
  check("openssh download", await sha256(join(dir, "down-openssh", "large.bin")), largeHash);
  const mb = largeBytes / 1e6;
  rows.push({ label: `upload ${LARGE_MIB} MiB`, unit: "MB/s", ours: mb / up.ours, openssh: mb / up.openssh, opensshFsync: mb / upFsync });
  rows.push({ label: `download ${LARGE_MIB} MiB`, unit: "MB/s", ours: mb / down.ours, openssh: mb / down.openssh });
  rows.push({
    label: `download ${LARGE_MIB} MiB, server CPU`,
    unit: "ms/MiB",
    ours: ((cpuAfter.ours - cpuBefore.ours) * 1000) / LARGE_MIB,
    openssh: ((cpuAfter.openssh - cpuBefore.openssh) * 1000) / LARGE_MIB,
  });
  console.log(`our server's write system calls during the ${LARGE_MIB} MiB download: ${writes} (${(writes / LARGE_MIB).toFixed(1)} per MiB)`);

  // Many small files: `put -r` / `get -r` of one folder.
  await run("sync");
  const upSmall = { ours: await timed(ours, local, ["put -r small"]), openssh: await timed(reference, local, ["put -r small"]) };
  const upSmallFsync = await timed(reference, local, ["put -f -r small small-fsync"]);
  check("ours small upload", treeDigest(join(ours.serverDir, "small")), smallHash);
  check("openssh small upload", treeDigest(join(reference.serverDir, "small")), smallHash);
  check("openssh small upload -f", treeDigest(join(reference.serverDir, "small-fsync")), smallHash);
  await run("sync");
  const downSmall = {
    ours: await timed(ours, local, [`lcd ${join(dir, "down-ours")}`, "get -r small"]),
    openssh: await timed(reference, local, [`lcd ${join(dir, "down-openssh")}`, "get -r small"]),
  };
  check("ours small download", treeDigest(join(dir, "down-ours", "small")), smallHash);
  check("openssh small download", treeDigest(join(dir, "down-openssh", "small")), smallHash);
  rows.push({
    label: `upload ${SMALL_FILES} × ${SMALL_KIB} KiB`,
    unit: "files/s",
    ours: SMALL_FILES / upSmall.ours,
    openssh: SMALL_FILES / upSmall.openssh,
    opensshFsync: SMALL_FILES / upSmallFsync,
  });
  rows.push({
    label: `download ${SMALL_FILES} × ${SMALL_KIB} KiB`,
    unit: "files/s",
    ours: SMALL_FILES / downSmall.ours,
    openssh: SMALL_FILES / downSmall.openssh,
  });

  const n = (x: number | undefined, unit: string) => (x === undefined ? "—" : unit === "s" || unit.startsWith("ms") ? x.toFixed(2) : x.toFixed(x < 10 ? 1 : 0));
  console.log("| case | unit | ours | OpenSSH | ours/OpenSSH | OpenSSH put -f (fsync) | ours/put -f |");
  console.log("|---|---|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    // For seconds and CPU lower is better: the ratio is still ours/OpenSSH, read it the other way.
    const ratio = (x: number | undefined) => (x === undefined ? "—" : `${(r.ours / x).toFixed(2)}×`);
    console.log(
      `| ${r.label} | ${r.unit} | ${n(r.ours, r.unit)} | ${n(r.openssh, r.unit)} | ${ratio(r.openssh)} | ${n(r.opensshFsync, r.unit)} | ${ratio(r.opensshFsync)} |`,
    );
  }

  // Against plain OpenSSH both ways, as the README's tables (the stricter ratio for uploads: ours fsyncs, plain OpenSSH does not).
  for (const [what, seconds] of [
    ["upload", up],
    ["download", down],
  ] as const)
    recordResult({
      bench: "file",
      figure: `SFTP ${what} ${LARGE_MIB} MiB, ours ÷ OpenSSH`,
      value: seconds.openssh / seconds.ours,
      unit: "×",
      target: { op: ">=", value: 0.8 },
    });

  await new Promise<void>((resolve) => {
    oursChild.once("exit", () => resolve());
    oursChild.kill("SIGTERM");
  });
  openssh.child.kill("SIGTERM");
  if (PROFILE) {
    const profiles = readdirSync(join(dir, "profile")).map((f) => join(dir, "profile", f));
    const kept = mkdtempSync(join(tmpdir(), "sp-bench-sftp-profile-"));
    for (const p of profiles) writeFileSync(join(kept, p.split("/").pop()!), readFileSync(p));
    console.log(`CPU profile of our server: ${kept}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
