/**
 * Where hosting customers' site certificates come from (`certificates:` in the spec, and a
 * customer's own `certificates.issuer`): the datacenter CA (the default; the proxy's certificate
 * names every customer) or an ACME CA the proxy orders from (images/proxy/src/acme.ts). The
 * ACME CA connects to the proxy on port 80 to validate, so the proxy must face the internet and
 * the customer's names must point at it (the datacenter's DNS does that by default).
 * Every problem comes with its config path, like the rest of validate.ts.
 */
import { X509Certificate } from "node:crypto";
import type { SpecIssue } from "./issues";
import type { DatacenterSpec } from "./schema";

export type CertificateIssuer = "datacenter-ca" | "acme";

/** The issuer of customer `c`'s certificate: its own choice, else the stack's, else the datacenter CA. */
export function issuerOf(spec: DatacenterSpec, c: number): CertificateIssuer {
  return spec.customers[c]?.certificates?.issuer ?? spec.certificates?.issuer ?? "datacenter-ca";
}

/** Every PEM certificate in a bundle parses (the proxy would otherwise fail to trust the directory at run time). */
function badBundle(pem: string): string | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return "holds no PEM certificate";
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `certificate ${i + 1} does not parse: ${(error as Error).message}`;
    }
  }
  return undefined;
}

export function checkCertificates(spec: DatacenterSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const acme = spec.certificates?.acme;
  const users = spec.customers.flatMap((c, i) => (issuerOf(spec, i) === "acme" ? [c.id] : []));
  if (acme?.caBundle !== undefined) {
    const problem = badBundle(acme.caBundle);
    if (problem) issues.push({ path: ["certificates", "acme", "caBundle"], message: problem });
  }
  if (users.length === 0) return issues;
  // Where the choice was made: the stack's issuer, else the first customer that asked for acme.
  const chosenAt =
    spec.certificates?.issuer === "acme"
      ? ["certificates", "issuer"]
      : ["customers", spec.customers.findIndex((c) => c.certificates?.issuer === "acme"), "certificates", "issuer"];
  const who = `customer${users.length === 1 ? "" : "s"} ${users.join(", ")}`;
  if (!acme) {
    issues.push({
      path: chosenAt,
      message: `acme issues the certificates of ${who}, but certificates.acme is not set: give its directoryUrl and email`,
    });
  } else if (acme.directoryUrl === undefined) {
    issues.push({
      path: ["certificates", "acme", "directoryUrl"],
      message: `is required: acme issues the certificates of ${who}. Give the CA's ACME directory (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory, reachable from a public deployment only; locally a test CA such as pebble with its caBundle)`,
    });
  }
  // The CA validates over HTTP on port 80 from the internet: the customers' proxy must face it.
  const internet = new Set(spec.networks.filter((n) => n.exposure === "internet").map((n) => n.id));
  const proxies = spec.services.map((s, i) => ({ s, i })).filter(({ s }) => s.role === "proxy");
  if (proxies.length > 0 && !proxies.some(({ s }) => s.networks.some((n) => internet.has(n)))) {
    issues.push({
      path: ["services", proxies[0]!.i, "networks"],
      message: `acme validates ${who}'s names by connecting to the proxy on port 80 from the internet; proxy service "${proxies[0]!.s.id}" has no internet network`,
    });
  }
  return issues;
}
