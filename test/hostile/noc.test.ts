/**
 * Hostile clients against the NOC page: it is not served in clear, a flood of wrong
 * passwords from one address (everyone behind Docker's port proxy shares one) cannot lock
 * the operator out — the right password from that same address still gets in — and never
 * slows another address; TLS 1.1 is refused. Clients: curl, fetch, openssl s_client.
 */
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nocSettingsSchema } from "../../contracts/settings/noc";
import { Monitor } from "../../images/noc/src/monitor";
import type { startNocWeb } from "../../images/noc/src/web";
import { createLogger } from "../../images/runtime/log";
import { certificateFiles } from "../noc/standins";
import { localPlan, startTestNocWeb } from "../noc/web-fixture";
import { curl, requireTool } from "../web/curl";
import { opensslHandshake } from "./support";

const PASSWORD = "right-password-0123456789";
const log = createLogger({ role: "noc", level: "silent" });
const tls = certificateFiles();
let ok = false;
let noc: Awaited<ReturnType<typeof startNocWeb>>;
const caFile = tls.caFile;

beforeAll(async () => {
  ok = await requireTool("curl");
  const monitor = new Monitor({ targets: [], settings: nocSettingsSchema.parse({}), domain: localPlan.domain, log });
  noc = await startTestNocWeb(monitor, PASSWORD, tls);
});
afterAll(async () => {
  await noc?.close();
});

describe("NOC page against hostile clients", () => {
  const https = (path = "/") => `https://127.0.0.1:${noc.port}${path}`;

  it("is HTTPS only: a plain HTTP request gets no page, curl with the datacenter CA gets the login challenge", async () => {
    if (!ok) return;
    const plain = await curl([`http://127.0.0.1:${noc.port}/`]);
    expect(plain.status).toBe(0);
    expect(plain.exitCode).not.toBe(0);
    const challenge = await curl(["--cacert", caFile, https()]);
    expect(challenge.status).toBe(401);
    expect((await curl(["--cacert", caFile, "-u", `operator:${PASSWORD}`, https("/api/status")])).status).toBe(200);
  });

  it("100 wrong passwords from one address lock out neither the operator at that address nor anyone elsewhere", async () => {
    if (!ok) return;
    const attacker = new Agent({ connect: { ca: tls.ca } });
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await fetch(https(), {
        headers: { authorization: `Basic ${Buffer.from(`operator:guess-${i}`).toString("base64")}` },
        dispatcher: attacker,
      } as RequestInit);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    await attacker.close();
    // The attacker is slowed: after its free failures it only gets 429s.
    expect(statuses.slice(-50).every((s) => s === 429)).toBe(true);
    // The operator, from the very same address, with the right password: in.
    const operator = await curl(["--cacert", caFile, "-u", `operator:${PASSWORD}`, https("/api/status")]);
    expect(operator.status).toBe(200);
    // Another address is not affected at all: a wrong password there is a plain 401.
    const elsewhere = await curl(["--interface", "127.0.0.2", "--cacert", caFile, "-u", "operator:typo", https()]);
    expect(elsewhere.status).toBe(401);
  });

  it("refuses TLS 1.1 and accepts TLS 1.2 (openssl s_client)", async () => {
    const old = await opensslHandshake(noc.port, "-tls1_1");
    expect(old.ok, old.output).toBe(false);
    expect((await opensslHandshake(noc.port, "-tls1_2")).protocol).toBe("TLSv1.2");
  });
});
