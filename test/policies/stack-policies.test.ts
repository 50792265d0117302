/**
 * Stack policies judge the datacenter model (`Datacenter.model` = {spec, plan, target}); each
 * gets the local stack's model (passing, unless the local stack genuinely fails it) and a
 * broken variant (failing), plus the power questions asked of the power model.
 */
import { describe, expect, it } from "vitest";
import { backupConfigured, backupTargetSeparated } from "../../policies/rules/backup";
import { hostOvercommit } from "../../policies/rules/capacity";
import { noStatefulMove } from "../../policies/rules/change";
import { backendsOffInternet } from "../../policies/rules/network";
import { nocProbesEverything } from "../../policies/rules/observability";
import { powerCapacityCoversLoad, powerPathSurvivesFeedLoss, redundantServicesSurvive, upsBridgesGeneratorStart } from "../../policies/rules/power";
import { noPlaintextSecrets } from "../../policies/rules/secrets";
import { belowTls12, noPlaintextAuth, tlsMinimumVersion, tlsOffered } from "../../policies/rules/tls";
import type { DatacenterSpecInput } from "../../components/spec/schema";
import { withCustomers } from "../support/customers";
import { container, datacenterResource, localSpecInput, messages, runPolicy, withSpec } from "./support";

const local = () => datacenterResource(localSpecInput());
const svc = (spec: any, id: string) => spec.services.find((s: { id: string }) => s.id === id);
/** The db back to one replica (db-0 on h3, fed by feed A alone), as before it became a highly available group. */
const singleDb = (spec: any) => {
  svc(spec, "db").replicas = 1;
  delete svc(spec, "db").redundant;
};

describe("A.7.11 supporting utilities", () => {
  it("sp-101 passes when every stranded service has a replica elsewhere (local stack: db-0 on h3, feed A only; db-1 on h6, feed B only)", async () => {
    const db = (spec: DatacenterSpecInput) => spec.services?.find((s) => s.id === "db");
    expect(db(localSpecInput())).toMatchObject({ replicas: 2, redundant: true });
    expect(await messages(powerPathSurvivesFeedLoss, [local()])).toEqual([]);
  });

  it("sp-101 names the single-fed host and the service without a replica elsewhere (the local stack with one db replica: db on h3)", async () => {
    expect(await messages(powerPathSurvivesFeedLoss, [datacenterResource(withSpec(singleDb))])).toEqual([
      expect.stringMatching(
        /^host h3 \(rack r1, PSUs r1-pdu-a→feed A\) loses power when feed A is lost, and service db has no replica on a host that keeps power\. Fix: .*h3/,
      ),
    ]);
  });

  it("sp-101 fails every host of a single-feed datacenter that carries a service", async () => {
    const single = withSpec((s) => {
      s.feeds = [s.feeds[0]];
      for (const r of s.racks) r.pdus = r.pdus.filter((p: { feed: string }) => p.feed === "A");
      for (const h of s.hosts) h.psus = h.psus.filter((p: string) => p.endsWith("-a"));
      s.hosts = s.hosts.filter((h: { psus: string[] }) => h.psus.length > 0);
      svc(s, "db").backup.targetHost = "h7";
    });
    const msgs = await messages(powerPathSurvivesFeedLoss, [datacenterResource(single, { useLock: false })]);
    expect(msgs.length).toBeGreaterThan(3);
    for (const m of msgs) expect(m).toMatch(/loses power when feed A is lost/);
  });

  it("sp-102 requires a UPS and generator and enough battery to bridge the generator start", async () => {
    expect(await messages(upsBridgesGeneratorStart, [local()])).toEqual([]);
    const slow = withSpec((s) => {
      s.feeds[1].generator.startDelaySeconds = 900;
      s.feeds[1].ups.runtimeMinutes = 1; // a full battery lasts well under 1800 s at the feed's worst load
    });
    expect(await messages(upsBridgesGeneratorStart, [datacenterResource(slow)])).toEqual([
      expect.stringMatching(/feeds\[1\] \(feed B, .*\): the UPS lasts [\d.]+ s at that load but must bridge 900 s .* margin 2 = 1800 s/),
    ]);
    const bare = withSpec((s) => delete s.feeds[0].ups);
    expect(await messages(upsBridgesGeneratorStart, [datacenterResource(bare)])).toEqual([expect.stringMatching(/feeds\[0\] \(feed A.*has no UPS/)]);
    // A stricter margin from the stack's policy config.
    expect(await messages(upsBridgesGeneratorStart, [local()], { config: { marginFactor: 1000 } })).toHaveLength(2);
  });

  it("sp-103 requires UPS and generator ratings above the feed's worst load", async () => {
    expect(await messages(powerCapacityCoversLoad, [local()])).toEqual([]);
    const small = withSpec((s) => (s.feeds[0].generator.capacityKw = 1));
    expect(await messages(powerCapacityCoversLoad, [datacenterResource(small)])).toEqual([
      expect.stringMatching(/feed A\): the generator is rated 1 kW but the feed carries up to [\d.]+ kW/),
    ]);
  });
});

describe("A.8.14 redundancy", () => {
  it("sp-111 passes the local stack's redundant services", async () => {
    expect(await messages(redundantServicesSurvive, [local()])).toEqual([]);
  });

  it("sp-111 fails a redundant service that needs all its replicas, naming the failures that take it down", async () => {
    const all = withSpec((s) => (svc(s, "www").minReplicas = 2));
    const [msg, ...rest] = await messages(redundantServicesSurvive, [datacenterResource(all)]);
    expect(rest).toEqual([]);
    expect(msg).toMatch(
      /services\[0\] \(www\) is declared redundant but drops below 2 running replicas when rack:r1 or rack:r2 or host:h1 or host:h4 fails; replicas: www-0 on h1 \(rack r1, feed A\+B\), www-1 on h4/,
    );
  });

  it("sp-111 decides by power, not by counting: two replicas on hosts fed only by feed A fail", async () => {
    const spec = withSpec((s) => {
      for (const h of s.hosts) if (h.id === "h1" || h.id === "h4") h.psus = h.psus.filter((p: string) => p.endsWith("-a"));
    });
    const msgs = await messages(redundantServicesSurvive, [datacenterResource(spec)]);
    expect(msgs.some((m) => /\(www\) .* when feed:A fails/.test(m))).toBe(true);
  });
});

describe("bad input: db with two replicas in one single-fed rack", () => {
  // h3 goes; rack r2 hangs on feed A alone (its second PDU moves to feed A), so the only
  // dedicated hosts left, h6 and h7, share one rack and one feed. The db replicates (two
  // replicas), which makes it redundant, but one rack or one feed still takes both replicas.
  const oneRack = withSpec((s) => {
    s.hosts = s.hosts.filter((h: { id: string }) => h.id !== "h3");
    s.racks.find((r: { id: string }) => r.id === "r2").pdus[1] = { id: "r2-pdu-a2", feed: "A", capacityKw: 11 };
    for (const h of s.hosts) if (h.rack === "r2") h.psus = h.psus.map((p: string) => (p === "r2-pdu-b" ? "r2-pdu-a2" : p));
    svc(s, "db").replicas = 2;
    svc(s, "db").backup.targetHost = "h2";
  });
  const model = () => datacenterResource(oneRack, { useLock: false });

  it("sp-111: the db is declared redundant, and rack r2 or feed A takes both replicas; the message says why", async () => {
    const msgs = await messages(redundantServicesSurvive, [model()]);
    expect(msgs).toEqual([
      expect.stringMatching(
        /^serverpark:datacenter\.services\[5\] \(db\) is declared redundant but drops below 1 running replica when feed:A or rack:r2 fails \(a lost replica fails over only while db-monitor runs, on h\d \(rack r\d, feed [AB+]+\); all 2 replicas are in rack r2; every replica's host is fed by feed A alone\); replicas: db-0 on h[67] \(rack r2, feed A\), db-1 on h[67] \(rack r2, feed A\)\. Fix: /,
      ),
    ]);
  });

  it("sp-101: losing feed A darkens both db hosts and leaves the db no replica", async () => {
    const msgs = await messages(powerPathSurvivesFeedLoss, [model()]);
    const db = msgs.filter((m) => /service db\b/.test(m));
    expect(db).toHaveLength(2);
    for (const host of ["h6", "h7"])
      expect(db).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^host ${host} \\(rack r2, PSUs r2-pdu-a2?→feed A(, r2-pdu-a2?→feed A)?\\) loses power when feed A is lost, and service db has no replica on a host that keeps power`,
          ),
        ),
      );
  });
});

describe("A.8.13 backup", () => {
  it("sp-421 requires a backup on every stateful service, with the minimum retention", async () => {
    expect(await messages(backupConfigured, [local()])).toEqual([]);
    const none = withSpec((s) => delete svc(s, "mail").backup);
    expect(await messages(backupConfigured, [datacenterResource(none)])).toEqual([
      expect.stringMatching(/services\[3\] \(mail\) keeps data \(role mail\) but has no backup/),
    ]);
    expect(await messages(backupConfigured, [local()], { config: { minRetentionDays: 20 } })).toEqual([
      expect.stringMatching(/\(mail\) keeps backups 14 days, less than the stack's minimum of 20/),
      expect.stringMatching(/\(files\) keeps backups 14 days/),
    ]);
  });

  it("sp-422 requires a target in another rack that no single feed loss takes down with the data", async () => {
    const good = withSpec((s) => {
      svc(s, "mail").backup.targetHost = "h7"; // mail-0 on h2 (r1, A+B) → h7 (r2, A+B)
      svc(s, "files").backup.targetHost = "h2"; // files-0 on h5 (r2) → h2 (r1)
      svc(s, "db").backup.targetHost = "h8"; // db-0 on h3 (r1), db-1 on h6 (r2) → h8 (r3, A+B), the one rack without a data node
    });
    expect(await messages(backupTargetSeparated, [datacenterResource(good)])).toEqual([]);
    // The local stack declares these targets itself.
    expect(await messages(backupTargetSeparated, [local()])).toEqual([]);
    const noTarget = withSpec((s) => {
      delete svc(s, "mail").backup.targetHost;
      delete svc(s, "files").backup.targetHost;
    });
    expect(await messages(backupTargetSeparated, [datacenterResource(noTarget)])).toEqual([
      expect.stringMatching(/\(mail\) has a backup schedule but no backup.targetHost/),
      expect.stringMatching(/\(files\) has a backup schedule/),
    ]);
    const sameRack = withSpec((s) => {
      svc(s, "mail").backup.targetHost = "h1";
      svc(s, "files").backup.targetHost = "h2";
      svc(s, "db").backup.targetHost = "h1"; // db-0 on h3 (r1, feed A only)
    });
    expect(await messages(backupTargetSeparated, [datacenterResource(sameRack)])).toEqual([
      expect.stringMatching(/\(mail\): backup target h1 is in rack r1, the same rack as replica mail-0/),
      expect.stringMatching(/\(db\): backup target h1 is in rack r1, the same rack as replica db-0/),
    ]);
    // A data node's own host is no backup target: its copies would share the host with its data.
    const onDataNode = withSpec((s) => (svc(s, "db").backup.targetHost = "h6"));
    expect(await messages(backupTargetSeparated, [datacenterResource(onDataNode)])).toContainEqual(
      expect.stringMatching(/\(db\): replica db-1 runs on its own backup target h6\. Fix: choose another backup.targetHost/),
    );
    const sameFeed = withSpec((s) => {
      svc(s, "mail").backup.targetHost = "h7";
      svc(s, "files").backup.targetHost = "h2";
      svc(s, "db").backup.targetHost = "h8";
      s.hosts.find((h: { id: string }) => h.id === "h8").psus = ["r3-pdu-a"]; // db-0 on h3 (feed A) → h8 now on feed A alone
    });
    expect(await messages(backupTargetSeparated, [datacenterResource(sameFeed)])).toEqual([
      expect.stringMatching(/losing feed A takes down both replica db-0 \(on h3, feed A\) and its backup target h8/),
    ]);
  });
});

describe("A.8.20 / A.8.22 segregation (stack)", () => {
  it("sp-302 fails a database declared on the internet network, and a back-end container attached to it", async () => {
    expect(await messages(backendsOffInternet, [local()])).toEqual([]);
    const exposed = withSpec((s) => (svc(s, "db").networks = ["public", "private"]));
    expect(await messages(backendsOffInternet, [datacenterResource(exposed)])).toEqual([
      expect.stringMatching(/services\[5\] \(db\) is a db service attached to the internet network public/),
    ]);
    const net = { type: "docker:index/network:Network", props: { name: "fra1-public", labels: [{ label: "serverpark.exposure", value: "internet" }] } };
    expect(await messages(backendsOffInternet, [net, container("file", { networksAdvanced: [{ name: "fra1-public" }] })])).toEqual([
      expect.stringMatching(/\(role file\) is attached to the internet network fra1-public/),
    ]);
    expect(await messages(backendsOffInternet, [net, container("proxy", { networksAdvanced: [{ name: "fra1-public" }] })])).toEqual([]);
  });

  it("sp-302 lets a file service that holds hosting customers' accounts face the internet, and nothing else", async () => {
    const hosting = withCustomers() as DatacenterSpecInput;
    const withLabels = (role: string, service: string) =>
      container(role, {
        networksAdvanced: [{ name: "fra1-public" }],
        labels: [
          { label: "serverpark.datacenter", value: "fra1" },
          { label: "serverpark.role", value: role },
          { label: "serverpark.service", value: service },
          { label: "serverpark.version", value: "0.1.0" },
        ],
      });
    const net = { type: "docker:index/network:Network", props: { name: "fra1-public", labels: [{ label: "serverpark.exposure", value: "internet" }] } };
    expect(await messages(backendsOffInternet, [datacenterResource(hosting), net, withLabels("file", "files")])).toEqual([]);
    // Another file service, or the same one without customers, is still a back-end.
    expect(await messages(backendsOffInternet, [datacenterResource(hosting), net, withLabels("file", "archive")])).toEqual([
      expect.stringMatching(/\(role file\) is attached to the internet network fra1-public/),
    ]);
    const noCustomers = withCustomers() as DatacenterSpecInput;
    noCustomers.customers = [];
    expect(await messages(backendsOffInternet, [datacenterResource(noCustomers)])).toEqual([
      expect.stringMatching(/services\[4\] \(files\) is a file service attached to the internet network public/),
    ]);
  });
});

describe("A.8.21 / A.8.24 TLS", () => {
  it("judges TLS versions", () => {
    for (const v of ["TLSv1", "TLSv1.1", "1.0", "1.1", "SSLv3", "tls1_1"]) expect(belowTls12(v), v).toBe(true);
    for (const v of ["TLSv1.2", "TLSv1.3", "1.2", "1.3", "tls1_3", "auto"]) expect(belowTls12(v), v).toBe(false);
  });

  it("sp-311 fails an internet-facing role without TLS, and TLS switched off", async () => {
    expect(await messages(tlsOffered, [local()])).toEqual([]);
    const off = withSpec((s) => (svc(s, "edge").settings = { tls: { enabled: false } }));
    expect(await messages(tlsOffered, [datacenterResource(off)])).toEqual([expect.stringMatching(/\(edge\): settings.tls switches TLS off/)]);
    // The local arena is reached only through the proxy (TLS there), so it needs no exemption;
    // published directly, the game server (plain WebSocket) fails without the default exemption.
    expect(await messages(tlsOffered, [local()], { config: { exempt: { game: "" } } })).toEqual([]);
    const direct = withSpec((s) => (svc(s, "arena").networks = ["public", "private"]));
    expect(await messages(tlsOffered, [datacenterResource(direct)], { config: { exempt: { game: "" } } })).toEqual([
      expect.stringMatching(/\(arena\) \(role game\) is published to the internet but its role offers no TLS/),
    ]);
  });

  it("sp-312 fails a minimum TLS version below 1.2", async () => {
    expect(await messages(tlsMinimumVersion, [local()])).toEqual([]);
    const old = withSpec((s) => (svc(s, "mail").settings = { tls: { minVersion: "TLSv1" } }));
    expect(await messages(tlsMinimumVersion, [datacenterResource(old)])).toEqual([
      expect.stringMatching(/\(mail\): settings.tls.minVersion is "TLSv1", below TLS 1.2/),
    ]);
  });

  it("sp-313 fails settings that allow plaintext authentication", async () => {
    expect(await messages(noPlaintextAuth, [local()])).toEqual([]);
    const plain = withSpec((s) => (svc(s, "mail").settings = { smtp: { allowInsecureAuth: true } }));
    expect(await messages(noPlaintextAuth, [datacenterResource(plain)])).toEqual([
      expect.stringMatching(/\(mail\): settings.smtp.allowInsecureAuth allows passwords over plaintext/),
    ]);
    const ftp = withSpec((s) => (svc(s, "files").settings = { ftp: { requireTls: false } }));
    expect(await messages(noPlaintextAuth, [datacenterResource(ftp)])).toEqual([
      expect.stringMatching(/\(files\): settings.ftp.requireTls is false, so passwords may cross in clear/),
    ]);
    const required = withSpec((s) => (svc(s, "files").settings = { ftp: { requireTls: true } }));
    expect(await messages(noPlaintextAuth, [datacenterResource(required)])).toEqual([]);
  });
});

describe("A.8.5 secure authentication (stack config)", () => {
  it("sp-211 fails a credential written in the spec, not its file reference", async () => {
    expect(await messages(noPlaintextSecrets, [local()])).toEqual([]);
    const ref = withSpec((s) => (svc(s, "db").settings = { users: [{ name: "app", passwordFile: "/run/secrets/app" }] }));
    expect(await messages(noPlaintextSecrets, [datacenterResource(ref)])).toEqual([]);
    const plain = withSpec((s) => (svc(s, "db").settings = { users: [{ name: "app", password: "s3cret-but-plain" }], apiToken: "x" }));
    expect(await messages(noPlaintextSecrets, [datacenterResource(plain)])).toEqual([
      expect.stringMatching(/^serverpark:datacenter.services\[5\].settings.users\[0\].password \(service db\) holds a credential in plaintext stack config/),
      expect.stringMatching(/services\[5\].settings.apiToken/),
    ]);
  });
});

describe("A.8.6 capacity (stack)", () => {
  it("sp-402 fails a host promised more than it has", async () => {
    expect(await messages(hostOvercommit, [local()])).toEqual([]);
    const model = local();
    const plan = (model.props.model as any).plan;
    plan.hosts[0].allocated = { cpus: 200, memoryGb: 100, diskGb: 10 };
    expect(await messages(hostOvercommit, [model])).toEqual([
      expect.stringMatching(/^host h1 \(virtualization, rack r1\) is promised 200 vCPUs but may promise 64 \(16 cores × 4\)/),
      expect.stringMatching(/promised 100 GB of memory but has 64 GB/),
    ]);
  });
});

describe("A.8.16 monitoring (stack)", () => {
  it("sp-433 fails services the NOC cannot probe, and a datacenter without NOC", async () => {
    expect(await messages(nocProbesEverything, [local()])).toEqual([]);
    const unmanaged = withSpec((s) => (svc(s, "arena").management = false));
    expect(await messages(nocProbesEverything, [datacenterResource(unmanaged)])).toEqual([
      expect.stringMatching(/\(arena\): replica arena-0 has no management address/),
    ]);
    const noNoc = withSpec((s) => (s.services = s.services.filter((x: { role: string }) => x.role !== "noc")));
    expect(await messages(nocProbesEverything, [datacenterResource(noNoc)])).toEqual([expect.stringMatching(/has no NOC service/)]);
  });
});

describe("A.8.32 change management (stack)", () => {
  it("sp-512 fails a plan that moves a stateful replica, not a stateless one", async () => {
    expect(await messages(noStatefulMove, [local()])).toEqual([]);
    const moved = (host: string) => withSpec((s) => (s.hosts = s.hosts.filter((h: { id: string }) => h.id !== host)));
    // h3 carries db-0 (stateful); h1 carries www-0, ns-0, arena-0 (stateless).
    expect(await messages(noStatefulMove, [datacenterResource(moved("h3"))])).toEqual([
      expect.stringMatching(/services\[5\] \(db\): replica db-0 MOVES: .*its data volume would be replaced/),
    ]);
    expect(await messages(noStatefulMove, [datacenterResource(moved("h1"))])).toEqual([]);
  });
});

describe("stack policies without a datacenter", () => {
  it("are not applicable", async () => {
    const outcome = await runPolicy(redundantServicesSurvive, [container("db")]);
    expect(outcome.violations).toEqual([]);
    expect(outcome.notApplicable).toEqual(["no serverpark Datacenter in this stack"]);
  });
});
