/**
 * `serverpark validate hetzner` checks the server-type catalogue against Hetzner's API where it
 * can, and says so where it cannot. This machine is offline, so the API is a stand-in HTTP
 * server on loopback answering `GET /v1/server_types` with `fixtures/server-types.json`: a
 * response in the API's shape (fields, string prices, pagination) written for these tests from
 * the catalogue, not recorded from Hetzner. The client reaches it through `HCLOUD_ENDPOINT`, as
 * Hetzner's own CLI would.
 */
import "tsx/cjs";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { captureIo } from "../support/cliIo";

const { main } = createRequire(join(process.cwd(), "test/hetzner/provider-catalog.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");

type Fixture = { server_types: Record<string, any>[] };
const recorded = (): Fixture => JSON.parse(readFileSync(join(__dirname, "fixtures/server-types.json"), "utf8")) as Fixture;
const TOKEN = "test-token-5f2a";

/** The stand-in API: pages of at most 5 types (so the client must follow next_page), Bearer token required. */
let answer: Fixture = recorded();
const requests: IncomingMessage[] = [];
let api: Server;
let base = "";

beforeAll(async () => {
  api = createServer((req, res) => {
    requests.push(req);
    const url = new URL(req.url!, "http://stand-in");
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ error: { code: "unauthorized", message: "unable to authenticate" } }));
    }
    if (url.pathname !== "/v1/server_types") return void res.writeHead(404).end();
    const perPage = Math.min(5, Number(url.searchParams.get("per_page") ?? 25));
    const page = Number(url.searchParams.get("page") ?? 1);
    const last = Math.ceil(answer.server_types.length / perPage);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        server_types: answer.server_types.slice((page - 1) * perPage, page * perPage),
        meta: { pagination: { page, per_page: perPage, previous_page: page > 1 ? page - 1 : null, next_page: page < last ? page + 1 : null, last_page: last } },
      }),
    );
  });
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => api.close(() => resolve())));
afterEach(() => {
  vi.unstubAllEnvs();
  answer = recorded();
  requests.length = 0;
});

async function validate(env: Record<string, string | undefined>) {
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const io = captureIo();
  const code = await main(["validate", "hetzner"], io);
  return { code, out: io.stdout, err: io.stderr };
}

const typeIn = (f: Fixture, name: string) => f.server_types.find((t) => t.name === name)!;

describe("server types checked against the provider", () => {
  it("without HCLOUD_TOKEN: skipped, with a notice saying so, and the stack still validates", async () => {
    const r = await validate({ HCLOUD_TOKEN: undefined, HCLOUD_ENDPOINT: base });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("notice: HCLOUD_TOKEN is not set: the server types (catalog.ts) were not checked against Hetzner's API");
    expect(requests).toEqual([]);
  });

  it("with the API unreachable: skipped, naming the address and why", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await validate({ HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: `http://127.0.0.1:${port}/v1` });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`notice: Hetzner's API at http://127\\.0\\.0\\.1:${port}/v1 could not be asked \\(fetch failed: ECONNREFUSED\\)`));
  });

  it("with a token the API refuses: skipped, with the status", async () => {
    const r = await validate({ HCLOUD_TOKEN: "wrong", HCLOUD_ENDPOINT: base });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/notice: Hetzner's API at .* could not be asked \(HTTP 401 Unauthorized\)/);
  });

  it("with an API that agrees: checked, every page read, the token sent as a Bearer token", async () => {
    const r = await validate({ HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: base });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`checked against ${base}/server_types`);
    expect(r.out).not.toContain("notice:");
    // 12 types, 5 per page: three requests, pages 1 to 3.
    expect(requests.map((q) => new URL(q.url!, "http://x").searchParams.get("page"))).toEqual(["1", "2", "3"]);
  });

  it("refuses the stack where a type it uses differs: price, size, location, withdrawal — at the host's line", async () => {
    const changed = recorded();
    typeIn(changed, "cx42").prices.find((p: any) => p.location === "fsn1").price_monthly.net = "17.4900000000";
    typeIn(changed, "ccx33").prices = typeIn(changed, "ccx33").prices.filter((p: any) => p.location !== "nbg1");
    typeIn(changed, "ccx33").memory = 24.0;
    answer = changed;
    const r = await validate({ HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: base });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /Pulumi\.hetzner\.yaml:\d+:\d+: serverpark:datacenter\.hosts\[0\]: host h1's server type: cx42 in fsn1: the catalogue says €16\.40 a month before VAT, Hetzner says €17\.49/,
    );
    // h6 is feed B's host, in nbg1.
    expect(r.err).toMatch(/hosts\[5\]: host h6's server type: ccx33 is not offered in nbg1/);
    expect(r.err).toMatch(/hosts\[2\]: host h3's server type: ccx33: the catalogue says 32 GB memory, Hetzner says 24/);
    answer = { server_types: recorded().server_types.filter((t) => t.name !== "ccx33") };
    const gone = await validate({ HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: base });
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/hosts\[6\]: host h7's server type: ccx33 is not offered by Hetzner any more/);
  });

  it("only notes a difference in a type the stack does not use", async () => {
    const changed = recorded();
    typeIn(changed, "cx22").deprecation = { announced: "2026-01-01T00:00:00+00:00", unavailable_after: "2026-04-01T00:00:00+00:00" };
    typeIn(changed, "ccx63").cores = 64;
    answer = changed;
    const r = await validate({ HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: base });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(
      "notice: catalogue (components/targets/hetzner/catalog.ts): cx22 is deprecated by Hetzner (unavailable after 2026-04-01T00:00:00+00:00)",
    );
    expect(r.out).toContain("notice: catalogue (components/targets/hetzner/catalog.ts): ccx63: the catalogue says 48 vCPUs, Hetzner says 64");
  });
});
