/**
 * A throwaway certificate authority made with the openssl CLI, shaped like the datacenter's
 * (components/DatacenterPki.ts): a server certificate for a replica's management address,
 * management client certificates (contracts/management.ts: the OU plus the caller as CN), and
 * the look-alikes an attacker could hold — a service certificate whose CN is "noc", and an
 * "operator" certificate from a CA the datacenter never trusted.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MANAGEMENT_CLIENT_OU } from "../../contracts/management";

export interface Pair {
  readonly cert: string;
  readonly key: string;
}

export interface ManagementPki {
  readonly dir: string;
  readonly ca: string;
  readonly server: Pair;
  readonly noc: Pair;
  readonly operator: Pair;
  /** A service's certificate (no management OU) that happens to be named "noc". */
  readonly serviceNamedNoc: Pair;
  /** A management "operator" certificate from a CA the datacenter does not trust. */
  readonly foreignOperator: Pair;
}

const openssl = (dir: string, ...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });

function authority(dir: string, name: string): string {
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/O=Serverpark/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
  );
  return join(dir, `${name}.crt`);
}

function issue(dir: string, ca: string, name: string, subject: string, ext: string): Pair {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.csr`);
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** One more client certificate from the same CA (e.g. a backup client, contracts/backups.ts). */
export function issueClient(pki: ManagementPki, name: string, subject: string): Pair {
  return issue(pki.dir, "ca", name, subject, "extendedKeyUsage=clientAuth\n");
}

export function makeManagementPki(serverAddresses: readonly string[]): ManagementPki {
  const dir = mkdtempSync(join(tmpdir(), "sp-mgmt-pki-"));
  const ca = authority(dir, "ca");
  authority(dir, "foreign");
  const client = "extendedKeyUsage=clientAuth\n";
  const sans = serverAddresses.map((a) => `IP:${a}`).join(",");
  return {
    dir,
    ca,
    server: issue(dir, "ca", "server", "/O=Serverpark/CN=replica", `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n`),
    noc: issue(dir, "ca", "noc", `/O=Serverpark/OU=${MANAGEMENT_CLIENT_OU}/CN=noc`, client),
    operator: issue(dir, "ca", "operator", `/O=Serverpark/OU=${MANAGEMENT_CLIENT_OU}/CN=operator`, client),
    serviceNamedNoc: issue(dir, "ca", "service-noc", "/O=Serverpark/CN=noc", `subjectAltName=DNS:noc\nextendedKeyUsage=serverAuth,clientAuth\n`),
    foreignOperator: issue(dir, "foreign", "foreign-operator", `/O=Serverpark/OU=${MANAGEMENT_CLIENT_OU}/CN=operator`, client),
  };
}
