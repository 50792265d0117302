/**
 * Real key pairs and X.509 certificates for @pulumi/tls resources under Pulumi mocks: the
 * tls provider computes these in a real deployment; under mocks they must be minted here
 * so the servers the offline applier starts are accepted by real TLS clients. P-256 keys,
 * as the datacenter's PKI asks for (components/DatacenterPki.ts).
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect polyfill first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, webcrypto } from "node:crypto";
import ssh2 from "ssh2";

x509.cryptoProvider.set(webcrypto as any);
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function keysOf(privateKeyPem: string): Promise<webcrypto.CryptoKeyPair> {
  const der = createPrivateKey(privateKeyPem).export({ type: "pkcs8", format: "der" });
  const spki = createPublicKey(privateKeyPem).export({ type: "spki", format: "der" });
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
  const publicKey = await webcrypto.subtle.importKey("spki", spki, ALG, true, ["verify"]);
  return { privateKey, publicKey } as webcrypto.CryptoKeyPair;
}

function subjectName(subject: { commonName?: string; organizationalUnit?: string; organization?: string } | undefined): string {
  const parts = [];
  if (subject?.commonName) parts.push(`CN=${subject.commonName}`);
  // The management client certificates' identity lives in the OU (contracts/management.ts).
  if (subject?.organizationalUnit) parts.push(`OU=${subject.organizationalUnit}`);
  if (subject?.organization) parts.push(`O=${subject.organization}`);
  return parts.join(", ") || "CN=serverpark";
}

function validity(hours: number): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Date.now() - 3600_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + hours * 3600_000) };
}

const serial = () =>
  randomBytes(8)
    .toString("hex")
    .replace(/^[89a-f]/, "1");

export async function mintTls(type: string, inputs: Record<string, any>): Promise<Record<string, unknown> | undefined> {
  switch (type) {
    case "tls:index/privateKey:PrivateKey": {
      if (inputs.algorithm === "ED25519") {
        // An SSH key (the Hetzner deployment's): OpenSSH formats, as the tls provider gives them.
        const key = ssh2.utils.generateKeyPairSync("ed25519");
        return { privateKeyOpenssh: key.private, publicKeyOpenssh: `${key.public}\n` };
      }
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      return {
        privateKeyPem: privateKey.export({ type: "sec1", format: "pem" }),
        privateKeyPemPkcs8: privateKey.export({ type: "pkcs8", format: "pem" }),
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }),
      };
    }
    case "tls:index/selfSignedCert:SelfSignedCert": {
      const keys = await keysOf(inputs.privateKeyPem);
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serial(),
        name: subjectName(inputs.subject),
        ...validity(inputs.validityPeriodHours),
        keys,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(Boolean(inputs.isCaCertificate), undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      return { certPem: cert.toString("pem") };
    }
    case "tls:index/certRequest:CertRequest": {
      const keys = await keysOf(inputs.privateKeyPem);
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: subjectName(inputs.subject),
        keys,
        signingAlgorithm: ALG,
        extensions: [sanExtension(inputs.dnsNames ?? [], inputs.ipAddresses ?? [])],
      });
      return { certRequestPem: csr.toString("pem") };
    }
    case "tls:index/locallySignedCert:LocallySignedCert": {
      const csr = new x509.Pkcs10CertificateRequest(inputs.certRequestPem);
      const ca = new x509.X509Certificate(inputs.caCertPem);
      const caKeys = await keysOf(inputs.caPrivateKeyPem);
      const san = csr.getExtension("2.5.29.17") as x509.SubjectAlternativeNameExtension | null; // subjectAltName
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: csr.subject,
        issuer: ca.subject,
        ...validity(inputs.validityPeriodHours),
        publicKey: await csr.publicKey.export(ALG, ["verify"]),
        signingKey: caKeys.privateKey,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          ...(san ? [san] : []),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
        ],
      });
      return { certPem: cert.toString("pem"), validityStartTime: cert.notBefore.toISOString(), validityEndTime: cert.notAfter.toISOString() };
    }
    default:
      return undefined;
  }
}

function sanExtension(dnsNames: string[], ipAddresses: string[]): x509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension([
    ...dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ]);
}
