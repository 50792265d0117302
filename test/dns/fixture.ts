/**
 * Test fixture: the real local stack's plan, the runtime config the Docker target would
 * give replica ns-0 with extra records in its settings (AAAA, CNAME chains, a huge TXT for truncation),
 * written to a temp file; and a small dig/kdig runner that parses their text output.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadPlan } from "../../cli/stack";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { dnsSettingsSchema } from "../../contracts/settings/dns";

const run = promisify(execFile);
export const ROOT = join(__dirname, "..", "..");

export const EXTRA_RECORDS = [
  { name: "www", type: "CNAME", data: "edge" },
  { name: "alias2", type: "CNAME", data: "www" },
  { name: "outside", type: "CNAME", data: "example.org." },
  { name: "v6", type: "AAAA", data: "2001:db8::53" },
  { name: "big", type: "TXT", data: Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(200, "x")) },
  { name: "medium", type: "TXT", data: Array.from({ length: 3 }, (_, i) => `${i}`.padEnd(200, "m")) },
  { name: "_http._tcp.www", type: "SRV", data: { priority: 1, weight: 5, port: 80, target: "edge" } },
];

/**
 * The config the program writes for ns-0 when its service's settings are `{ records:
 * EXTRA_RECORDS, ...settings }`: the settings as written, and the final zones with those
 * records merged in by the program (components/model/dnsView.ts).
 */
export function dnsConfig(settings: Record<string, unknown> = {}) {
  const { plan } = loadPlan("local", ROOT);
  const planned = plan.services.find((s) => s.role === "dns")!;
  const written = { records: EXTRA_RECORDS, ...settings };
  const service = { ...planned, settings: written, roleSettings: dnsSettingsSchema.parse(written) };
  const replica = plan.replicas.find((r) => r.id === service.replicas[0])!;
  return { plan, config: replicaRuntimeConfig(plan, replica, service) };
}

export function writeConfig(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "sp-dns-"));
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify(config));
  return path;
}

export interface DigResult {
  readonly status: string;
  readonly flags: string[];
  readonly answer: string[];
  readonly authority: string[];
  readonly additional: string[];
  readonly raw: string;
}

/** Which tool to use; both print `;; ->>HEADER<<-` and `;; flags:` lines (kdig with ; separators). */
export async function dig(port: number, args: string[], tool: "dig" | "kdig" = "dig"): Promise<DigResult> {
  const base =
    // Three tries of 5 s: on a loaded machine one 2 s try timed out now and then (";; communications error").
    tool === "dig" ? ["-p", String(port), "@127.0.0.1", "+tries=3", "+time=5", "+norec"] : ["-p", String(port), "@127.0.0.1", "+retry=2", "+time=5", "+norec"];
  const { stdout } = await run(tool, [...base, ...args], { timeout: 25_000 }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }));
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? "NONE";
  const flags = (/;; flags: ([^;]*);/i.exec(stdout)?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
  const section = (name: string) => {
    const start = stdout.search(new RegExp(`;; ${name} SECTION:`, "i"));
    if (start < 0) return [];
    const lines = stdout.slice(start).split("\n").slice(1);
    const out: string[] = [];
    for (const line of lines) {
      if (line.trim() === "" || line.startsWith(";;")) break;
      out.push(line.replace(/\s+/g, " ").trim());
    }
    return out;
  };
  return { status, flags, answer: section("ANSWER"), authority: section("AUTHORITY"), additional: section("ADDITIONAL"), raw: stdout };
}

export { haveTool, requireTool } from "../web/curl";
