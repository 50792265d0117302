/**
 * The db replica on real Docker: healthy, reachable on its private address from the web
 * tier, and unreachable from a container on the internet-facing network only.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

/** A TCP connect from inside a container with the image's own node; prints OK or the error code. */
const connectScript = (host: string, port: number) =>
  `const s = require("node:net").connect(${port}, ${JSON.stringify(host)}); s.setTimeout(3000, () => { console.log("TIMEOUT"); process.exit(1); }); s.on("connect", () => { console.log("OK"); process.exit(0); }); s.on("error", (e) => { console.log(e.code); process.exit(1); });`;

describeE2e("db replica on Docker", () => {
  it("is healthy and reachable from the web tier on the private network", async () => {
    const db = dc.replica("db-0");
    expect(db.health, db.name).toBe("healthy");
    const web = dc.replica("www-0");
    const { stdout } = await run("docker", ["exec", web.name, "node", "-e", connectScript(db.addresses.private!, 5432)], { timeout: 20_000 });
    expect(stdout.trim()).toBe("OK");
  }, 60_000);

  it("cannot be reached from the internet-facing network", async () => {
    const db = dc.replica("db-0");
    const result = await run(
      "docker",
      ["run", "--rm", "--network", dc.networks.public!, "--entrypoint", "node", "node:24-bookworm-slim", "-e", connectScript(db.addresses.private!, 5432)],
      { timeout: 30_000 },
    ).then(
      (r) => r.stdout.trim(),
      (e: { stdout?: string }) => (e.stdout ?? "").trim(),
    );
    expect(result).not.toBe("OK");
  }, 60_000);
});
