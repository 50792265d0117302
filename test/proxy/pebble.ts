/**
 * Debian's pebble (Let's Encrypt's test ACME CA) for the proxy's ACME tests: its own HTTPS
 * certificate made with openssl, HTTP-01 validation sent to the given port, names resolved by
 * the given DNS server (ours, in-process). PEBBLE_VA_NOSLEEP skips its random validation delay
 * and PEBBLE_WFE_NONCEREJECT=0 its deliberate bad nonces, so a run does the same every time.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curl, selfSigned } from "../web/curl";

export interface Pebble {
  readonly directoryUrl: string;
  /** Pebble's own HTTPS certificate: what the proxy must trust to reach the directory. */
  readonly caBundle: string;
  readonly caFile: string;
  /** Pebble's issuing root, from its management API (`/roots/0`): what a client trusts for the issued certificates. */
  root(): Promise<string>;
  /** Everything pebble printed (for a failure's message). */
  output(): string;
  close(): Promise<void>;
}

/**
 * `n` distinct ports free on loopback now, none in `exclude` (pebble takes its ports from its
 * config, not from the kernel). They are drawn from 10000-19999, below the kernel's ephemeral
 * range (32768 up), so another test's `listen(0)` cannot take one before pebble or the proxy
 * binds it, and held open together so none is handed out twice.
 */
export async function freePorts(n: number, exclude: readonly number[] = []): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  while (ports.length < n) {
    const port = 10_000 + Math.floor(Math.random() * 10_000);
    if (exclude.includes(port) || ports.includes(port)) continue;
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!bound) continue;
    held.push(server);
    ports.push(port);
  }
  await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** `validitySeconds`: the lifetime of the certificates it issues (pebble's default is five years). */
export async function startPebble(options: { readonly httpPort: number; readonly dnsPort: number; readonly validitySeconds?: number }): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), "sp-pebble-"));
  const tls = await selfSigned(["localhost"]);
  const [port, managementPort, tlsPort] = (await freePorts(3, [options.httpPort])) as [number, number, number];
  const config = join(dir, "pebble.json");
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: tls.certFile,
        privateKey: tls.keyFile,
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  );
  let printed = "";
  const child: ChildProcess = spawn("pebble", ["-config", config, "-dnsserver", `127.0.0.1:${options.dnsPort}`], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (printed += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (printed += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const directoryUrl = `https://localhost:${port}/dir`;
  // Up when the directory answers over its HTTPS (a bounded wait for start-up, not an assertion).
  for (let i = 0; ; i++) {
    const res = await curl(["--cacert", tls.certFile, directoryUrl]);
    if (res.status === 200) break;
    if (child.exitCode !== null || i > 100) throw new Error(`pebble did not start: ${printed}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    directoryUrl,
    caBundle: readFileSync(tls.certFile, "utf8"),
    caFile: tls.certFile,
    root: async () => {
      const res = await curl(["--cacert", tls.certFile, `https://localhost:${managementPort}/roots/0`]);
      if (res.status !== 200) throw new Error(`pebble /roots/0: ${res.status} ${res.stderr}`);
      return res.body.toString();
    },
    output: () => printed,
    close: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
