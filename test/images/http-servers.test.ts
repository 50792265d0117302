/**
 * The HTTP(S) listeners web and proxy share (images/runtime/httpServers.ts): which certificate
 * a TLS client gets by SNI (exact, wildcard, the replica's own, none sent), that renewed
 * certificate files replace the served ones without a restart, and that a broken renewal
 * keeps the old one. Real openssl certificates, real TLS handshakes on loopback.
 */
import { copyFileSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { startHttpListeners, type HttpListeners } from "../../images/runtime/httpServers";
import { createLogger } from "../../images/runtime/log";
import { haveTools } from "../mail/support";
import { selfSigned } from "../web/curl";

const log = createLogger({ role: "test", level: "silent" });
const open: HttpListeners[] = [];
afterEach(async () => {
  for (const listeners of open.splice(0)) await listeners.close();
});

/** The CN of the certificate the server presents; no `servername` means no SNI at all. */
function presented(port: number, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.end();
      resolve(String(cn));
    });
    socket.on("error", reject);
  });
}

async function start(
  files: Parameters<typeof startHttpListeners>[0]["defaultCertificate"],
  certificates: Parameters<typeof startHttpListeners>[0]["certificates"],
) {
  const listeners = await startHttpListeners({
    host: "127.0.0.1",
    httpPort: 0,
    httpsPort: 0,
    ...(files ? { defaultCertificate: files } : {}),
    certificates,
    limits: {},
    handler: () => (_req, res) => res.end("ok\n"),
    noCertificateMessage: "no certificate",
    log,
  });
  open.push(listeners);
  return listeners;
}

describe.skipIf(!haveTools("openssl"))("shared HTTPS listener", () => {
  it("serves the exact name's certificate, then the wildcard's, then the replica's; no SNI gets the replica's", async () => {
    const [replica, site, wild] = await Promise.all([selfSigned(["replica.test"]), selfSigned(["a.test", "www.a.test"]), selfSigned(["*.wild.test"])]);
    const listeners = await start(replica, [
      { names: ["a.test", "www.a.test"], files: site },
      { names: ["*.wild.test"], files: wild },
    ]);
    const port = listeners.httpsPort!;
    expect(await presented(port, "a.test")).toBe("a.test");
    expect(await presented(port, "WWW.A.TEST")).toBe("a.test");
    expect(await presented(port, "x.wild.test")).toBe("*.wild.test");
    expect(await presented(port, "other.test")).toBe("replica.test");
    expect(await presented(port)).toBe("replica.test");
  });

  it("has no HTTPS listener without any certificate", async () => {
    const listeners = await start(undefined, []);
    expect(listeners.https).toBeUndefined();
    expect(listeners.httpsPort).toBeUndefined();
  });

  it("serves renewed certificate files after a reload, with and without SNI", async () => {
    const [replica, site, renewedReplica, renewedSite] = await Promise.all([
      selfSigned(["replica.test"]),
      selfSigned(["a.test"]),
      selfSigned(["replica-renewed.test"]),
      selfSigned(["a-renewed.test"]),
    ]);
    const listeners = await start(replica, [{ names: ["a.test"], files: site }]);
    const port = listeners.httpsPort!;
    expect(await presented(port, "a.test")).toBe("a.test");
    for (const [from, to] of [
      [renewedReplica, replica],
      [renewedSite, site],
    ] as const) {
      copyFileSync(from.certFile, to.certFile);
      copyFileSync(from.keyFile, to.keyFile);
    }
    await listeners.reloadCertificates();
    expect(await presented(port, "a.test")).toBe("a-renewed.test");
    expect(await presented(port, "other.test")).toBe("replica-renewed.test");
    expect(await presented(port)).toBe("replica-renewed.test");
  });

  it("keeps serving the old certificate when the renewed files are broken", async () => {
    const [replica, other] = await Promise.all([selfSigned(["replica.test"]), selfSigned(["other.test"])]);
    const listeners = await start(replica, []);
    // A certificate whose key does not match: a half-finished renewal.
    copyFileSync(other.certFile, replica.certFile);
    await expect(listeners.reloadCertificates()).rejects.toThrow();
    writeFileSync(replica.keyFile, "not a key");
    await expect(listeners.reloadCertificates()).rejects.toThrow();
    expect(await presented(listeners.httpsPort!)).toBe("replica.test");
    expect(await presented(listeners.httpsPort!, "replica.test")).toBe("replica.test");
  });
});
