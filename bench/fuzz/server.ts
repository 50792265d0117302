/**
 * The server under a long fuzz run, in a process of its own: `tsx bench/fuzz/server.ts dns|http`
 * starts the real server on loopback (the same fixtures the unit tests use), prints
 * `{"port": n}` once it listens, then `{"rssMiB": x}` every 100 ms until killed. The fuzzer
 * (bench/fuzz/<protocol>.fuzz.ts) reads these lines: a process that exits is a crash, and
 * the largest RSS is the run's memory.
 */
import { startDnsApp } from "../../images/dns/src/app";
import { createLogger } from "../../images/runtime/log";
import { dnsConfig, writeConfig } from "../../test/dns/fixture";
import { startWebFixture } from "../../test/web/fixture";

// The fuzzer went away (it read its last line and killed us, or died): stop with it.
process.stdout.on("error", () => process.exit(0));

async function main(): Promise<void> {
  const which = process.argv[2];
  let port: number;
  if (which === "dns") {
    const app = await startDnsApp({
      // RRL off: the fuzzer is one address sending far more than any client would.
      configPath: writeConfig(dnsConfig({ rrl: { responsesPerSecond: 0 } }).config),
      host: "127.0.0.1",
      port: 0,
      log: createLogger({ role: "dns", level: "silent" }),
      watchIntervalMs: 0,
    });
    port = app.server.port;
  } else if (which === "http") {
    // The unit test's short timeouts, so stalled inputs are cut quickly.
    const f = await startWebFixture({ headersTimeout: 1000, requestTimeout: 2000, connectionsCheckingInterval: 200 });
    port = f.app.httpPort;
  } else {
    throw new Error(`usage: server.ts dns|http (got ${which})`);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  setInterval(() => process.stdout.write(`${JSON.stringify({ rssMiB: process.memoryUsage.rss() / 1024 / 1024 })}\n`), 100);
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
