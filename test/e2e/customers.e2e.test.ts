/**
 * The local stack's hosting customers on real Docker (issue 19), from the host with real
 * clients only: acme uploads its site with OpenSSH's sftp and globex with lftp over FTPS,
 * both to the file service's published ports; curl gets each site by the customer's name over
 * HTTPS through the proxy with the datacenter CA; dig at the published name server answers
 * the customers' A and MX records; globex cannot read acme's files. swaks delivers to acme's
 * mailbox through the published SMTP port and curl reads it over IMAPS with the datacenter CA;
 * globex's mailbox login cannot see it. The passwords are the mock's RandomPassword for
 * `<datacenter>-svc-files-user-<account>` and `<datacenter>-svc-mail-user-<address>`
 * (test/support/pulumiMocks.ts).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent } from "undici";
import { expect, it } from "vitest";
import { dig } from "../dns/fixture";
import { sftpRun } from "../file/support";
import { curl as mailCurl, haveTools, swaks } from "../mail/support";
import { mockPassword } from "../support/mockCredentials";
import { curl } from "../web/curl";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();
const password = (account: string) => mockPassword(`${dc.datacenter}-svc-files-user-${account}`);
const mailPassword = (address: string) => mockPassword(`${dc.datacenter}-svc-mail-user-${address}`);

describeE2e("hosting customers on Docker", () => {
  const work = mkdtempSync(join(tmpdir(), "sp-e2e-customers-"));
  const stamp = String(Date.now());

  /** The datacenter CA, from the proxy's own certificate folder. */
  async function caFile(): Promise<string> {
    const { stdout } = await run("docker", ["exec", dc.replica("edge-0").name, "cat", "/etc/serverpark/tls/ca.crt"]);
    const file = join(work, "ca.crt");
    writeFileSync(file, stdout);
    return file;
  }

  /** The customer's page over HTTPS through the published proxy port, by name, until it is `body` (30 s at most). */
  async function site(name: string, body: string): Promise<{ status: number; text: string; stderr: string }> {
    const port = dc.replica("edge-0").published["443/tcp"]!;
    const ca = await caFile();
    let last = { status: 0, text: "", stderr: "" };
    for (let i = 0; i < 60; i++) {
      const r = await curl(["--resolve", `${name}:${port}:127.0.0.1`, "--cacert", ca, `https://${name}:${port}/`]);
      last = { status: r.status, text: r.body.toString(), stderr: r.stderr };
      if (last.text === body) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return last;
  }

  it("the name server answers for the customers' domains: A to the proxy, MX to the mail service", async () => {
    if (!haveTools("dig")) return;
    const port = dc.replica("ns-0").published["53/udp"]!;
    const edge = ["edge-0", "edge-1"].map((id) => dc.replica(id).addresses.public!).sort();
    for (const domain of ["acme.test", "www.acme.test", "globex.test"]) {
      const a = await dig(port, [domain, "A"]);
      expect(a.status, domain).toBe("NOERROR");
      expect(a.flags).toContain("aa");
      expect(
        a.answer
          .filter((l) => / IN A /.test(l))
          .map((l) => l.split(" ").pop())
          .sort(),
      ).toEqual(edge);
    }
    const mx = await dig(port, ["acme.test", "MX"]);
    expect(mx.answer.join("\n")).toContain(`MX 10 mail.${dc.domain}.`);
    const blog = await dig(port, ["blog.acme.test", "A"]);
    expect(blog.answer.join("\n")).toMatch(/CNAME www\.acme\.test\./);
  });

  it("acme uploads its site over SFTP to the published port; curl gets it by name over HTTPS through the proxy", async () => {
    if (!haveTools("sftp", "sshpass", "curl")) return;
    const files = dc.replica("files-0");
    writeFileSync(join(work, "acme.html"), `<h1>acme ${stamp}</h1>\n`);
    const put = await sftpRun({ host: "127.0.0.1", port: files.published["22/tcp"]!, user: "acme", password: password("acme") }, [
      "-mkdir public_html",
      `put ${join(work, "acme.html")} public_html/index.html`,
    ]);
    expect(put.code, put.out).toBe(0);
    for (const name of ["acme.test", "www.acme.test"]) {
      const r = await site(name, `<h1>acme ${stamp}</h1>\n`);
      expect(r.status, r.stderr).toBe(200);
      expect(r.text).toBe(`<h1>acme ${stamp}</h1>\n`);
    }
  });

  it("globex uploads with lftp over FTPS (passive ports published); its site is its own", async () => {
    if (!haveTools("lftp", "curl")) return;
    const files = dc.replica("files-0");
    writeFileSync(join(work, "globex.html"), `<h1>globex ${stamp}</h1>\n`);
    const script = [
      "set ftp:ssl-force true",
      "set ftp:ssl-protect-data true",
      `set ssl:ca-file ${await caFile()}`,
      "set ssl:check-hostname no",
      "set net:max-retries 1",
      "set net:timeout 20",
      "set cmd:fail-exit true",
      `open -u globex,${password("globex")} -p ${files.published["21/tcp"]!} ftp://127.0.0.1`,
      "mkdir -f public_html",
      `put ${join(work, "globex.html")} -o public_html/index.html`,
    ].join("\n");
    await run("lftp", ["-c", script], { timeout: 90_000 }).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`lftp failed: ${e.stdout ?? ""}${e.stderr ?? ""}`);
    });
    const r = await site("globex.test", `<h1>globex ${stamp}</h1>\n`);
    expect(r.status, r.stderr).toBe(200);
    expect(r.text).toBe(`<h1>globex ${stamp}</h1>\n`);
    // Each name answers with its own customer's site.
    expect((await site("acme.test", `<h1>acme ${stamp}</h1>\n`)).text).toBe(`<h1>acme ${stamp}</h1>\n`);
  });

  it("the NOC probes each customer site over HTTPS through every proxy replica, and finds it up", async () => {
    const noc = dc.replica("noc-0");
    const { stdout: ca } = await run("docker", ["exec", noc.name, "cat", "/etc/serverpark/tls/ca.crt"]);
    const { stdout: secret } = await run("docker", ["exec", noc.name, "cat", "/etc/serverpark/secrets/noc-password"]);
    const dispatcher = new Agent({ connect: { ca } });
    const authorization = `Basic ${Buffer.from(`operator:${secret.trim()}`).toString("base64")}`;
    type Probe = { replica: string; port: string; kind: string; state: string; detail: string };
    let sites: Probe[] = [];
    // The NOC probes every 10 s (the local stack's intervalMs).
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`https://127.0.0.1:${noc.published["8080/tcp"]!}/api/status`, { headers: { authorization }, dispatcher } as RequestInit);
      sites = ((await res.json()) as { probes: Probe[] }).probes.filter((p) => p.kind === "customer-site");
      // Up already with 404 before the upload: wait for a round that saw the published pages.
      if (sites.length === 4 && sites.every((p) => p.state === "up" && p.detail.startsWith("HTTP 200"))) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(sites.map((p) => `${p.replica} ${p.port} ${p.state}`).sort()).toEqual([
      "edge-0 site:acme.test up",
      "edge-0 site:globex.test up",
      "edge-1 site:acme.test up",
      "edge-1 site:globex.test up",
    ]);
    for (const p of sites) expect(p.detail).toMatch(/^HTTP 200 via proxy \(Host (acme|globex)\.test\), TLS verified as (acme|globex)\.test$/);
    await dispatcher.close();
  });

  it("globex can neither read nor overwrite acme's files", async () => {
    if (!haveTools("sftp", "sshpass")) return;
    const files = dc.replica("files-0");
    const target = { host: "127.0.0.1", port: files.published["22/tcp"]!, user: "globex", password: password("globex") };
    for (const path of ["../acme/files/public_html/index.html", "/../../acme/files/public_html/index.html"]) {
      const r = await sftpRun(target, [`get ${path} ${join(work, "stolen.html")}`]);
      expect(r.code, r.out).not.toBe(0);
    }
    const overwrite = await sftpRun(target, [`put ${join(work, "globex.html")} ../acme/files/public_html/index.html`]);
    expect(overwrite.code).not.toBe(0);
    expect((await site("acme.test", `<h1>acme ${stamp}</h1>\n`)).text).toBe(`<h1>acme ${stamp}</h1>\n`);
  });

  it("swaks delivers to acme's mailbox through the published SMTP port, curl reads it over IMAPS; globex's login cannot see it", async () => {
    if (!haveTools("swaks", "curl")) return;
    const mail = dc.replica("mail-0");
    const marker = `e2e-acme-${stamp}`;
    const smtp = ["--server", "127.0.0.1", "--port", String(mail.published["25/tcp"]), "--from", "buyer@example.org"];
    const sent = await swaks([...smtp, "--to", "info@acme.test", "--body", marker]);
    expect(sent.code, sent.out).toBe(0);
    const unknown = await swaks([...smtp, "--to", "nobody@acme.test"]);
    expect(unknown.out).toMatch(/<\*\* +550 5\.1\.1/);
    // Over IMAPS by the certificate's name, verified with the datacenter CA.
    const port = mail.published["993/tcp"]!;
    const name = `imap.${dc.domain}`;
    const tls = ["--cacert", await caFile(), "--resolve", `${name}:${port}:127.0.0.1`];
    const imap = (address: string, ...args: string[]) => mailCurl([...tls, "--user", `${address}:${mailPassword(address)}`, ...args]);
    const listed = await imap("info@acme.test", `imaps://${name}:${port}/`);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toContain('* LIST (\\HasNoChildren \\Sent) "/" "Sent"');
    const search = await imap("info@acme.test", "-X", `UID SEARCH BODY ${marker}`, `imaps://${name}:${port}/INBOX`);
    const uid = /\* SEARCH (\d+)/.exec(search.out)?.[1];
    expect(uid, `${search.out}${search.err}`).toBeDefined();
    const body = await imap("info@acme.test", `imaps://${name}:${port}/INBOX;UID=${uid}`);
    expect(body.out).toContain(marker);
    // globex logs in to its own mailbox, which does not have acme's message, and cannot name acme's.
    const theirs = await imap("info@globex.test", "-X", `UID SEARCH BODY ${marker}`, `imaps://${name}:${port}/INBOX`);
    expect(theirs.code, theirs.err).toBe(0);
    expect(theirs.out.trim()).toBe("* SEARCH");
    const escape = await imap("info@globex.test", "-X", 'EXAMINE "../info@acme.test"', `imaps://${name}:${port}/`);
    expect(escape.code).not.toBe(0);
    const wrong = await mailCurl([...tls, "--user", `info@globex.test:${mailPassword("info@acme.test")}`, `imaps://${name}:${port}/`]);
    expect(wrong.code).not.toBe(0);
  }, 90_000);
});
