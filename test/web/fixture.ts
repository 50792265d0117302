/** A web server on loopback with two sites, a big file, symlinks that try to escape, and per-site certificates. */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../images/runtime/log";
import { parseReplicaConfig, STANDALONE_CONFIG } from "../../images/runtime/replica";
import { webSettingsSchema } from "../../contracts/settings/web";
import { startWebApp, type Limits, type WebApp } from "../../images/web/src/app";
import { selfSigned } from "./curl";

export const CSS = `body { color: #333; }\n`.repeat(200);
export const BIG = randomBytes(3 * 1024 * 1024 + 17);

export interface WebFixture {
  readonly app: WebApp;
  readonly root: string;
  readonly certs: Record<"a" | "b" | "replica", { certFile: string; keyFile: string }>;
}

export async function startWebFixture(limits: Partial<Limits> = {}, replica = "www-0"): Promise<WebFixture> {
  const base = mkdtempSync(join(tmpdir(), "sp-web-"));
  const root = join(base, "a");
  mkdirSync(join(root, "sub"), { recursive: true });
  mkdirSync(join(root, ".git"), { recursive: true });
  writeFileSync(join(root, "index.html"), "<!doctype html><h1>site a</h1>\n");
  writeFileSync(join(root, "style.css"), CSS);
  writeFileSync(join(root, "big.bin"), BIG);
  writeFileSync(join(root, "data.json"), JSON.stringify({ hello: "world" }));
  writeFileSync(join(root, "sub", "index.html"), "<h1>sub</h1>\n");
  writeFileSync(join(root, "404.html"), "<h1>custom not found page of a</h1>\n");
  writeFileSync(join(root, ".git", "config"), "secret");
  writeFileSync(join(base, "outside.txt"), "outside the root");
  symlinkSync("/etc/passwd", join(root, "passwd"));
  symlinkSync(base, join(root, "up"));
  symlinkSync(join(root, "index.html"), join(root, "alias.html"));
  const [a, b, rep] = await Promise.all([selfSigned(["a.test", "www.a.test"]), selfSigned(["b.test"]), selfSigned(["www.fra1.park.test"])]);
  const config = parseReplicaConfig(
    JSON.stringify({
      ...STANDALONE_CONFIG,
      replica,
      service: "www",
      domain: "fra1.park.test",
      settings: {
        sites: [
          { host: "a.test", aliases: ["www.a.test"], root, errorPages: { "404": "404.html" }, tls: a, default: true },
          { host: "b.test", files: { "index.html": "<h1>site b</h1>\n", "docs/readme.txt": "b docs\n" }, tls: b, cacheControl: "no-cache" },
        ],
      },
    }),
    webSettingsSchema,
  );
  const app = await startWebApp({
    config,
    host: "127.0.0.1",
    httpPort: 0,
    httpsPort: 0,
    tls: rep,
    scratchDir: join(base, "scratch"),
    log: createLogger({ role: "web", level: "silent" }),
    limits,
  });
  return { app, root, certs: { a, b, replica: rep } };
}
