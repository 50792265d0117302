/**
 * The host agent with its backup store as a process of its own (`node --import tsx` this file),
 * so a test or a benchmark can read that process's memory (/proc/<pid>/status) while copies
 * stream through it. Reads SP_TEST_STORE (JSON: the PKI, the store's clients and folder), starts
 * the agent on loopback over mutual TLS (test/support/backupStore.ts) and prints `{"port": n}`.
 */
import { createLogger } from "../../images/runtime/log";
import { startBackupStore } from "./backupStore";

const spec = JSON.parse(process.env.SP_TEST_STORE ?? "{}") as Parameters<typeof startBackupStore>[2] & { pki: Parameters<typeof startBackupStore>[0] };
void startBackupStore(spec.pki, createLogger({ role: "host-agent", level: "silent" }), spec).then(({ agent }) => {
  process.stdout.write(`${JSON.stringify({ port: agent.management.port })}\n`);
  process.on("SIGTERM", () => void agent.management.close().then(() => process.exit(0)));
});
