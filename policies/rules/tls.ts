/**
 * A.8.21 Security of network services and A.8.24 Use of cryptography: what faces the internet
 * offers TLS (HTTPS, STARTTLS/IMAPS/POP3S, FTPS/SFTP), nothing is configured below TLS 1.2,
 * and no role setting allows authentication over plaintext.
 *
 * These policies judge the datacenter model: which services are published to the internet
 * (the plan's exposure matrix) and their declared role settings. The roles' own defaults
 * (TLS on, 1.2 minimum, AUTH only after STARTTLS) are tested with real clients in their images.
 */
import { modelPolicy } from "../lib/policy";
import { servicePath } from "../lib/resources";
import { findKeys } from "../lib/settings";

const CONTROLS = ["A.8.21", "A.8.24"];

/** How each role protects its internet-facing protocols. */
export const TLS_OFFERED: Readonly<Record<string, string>> = {
  proxy: "HTTPS on 443 (HTTP on 80 only redirects)",
  web: "HTTPS on 8443",
  mail: "STARTTLS on 25/587, IMAPS on 993, POP3S on 995",
  file: "SFTP on 22, explicit FTPS on 21",
};

/** Roles published to the internet without TLS, and why that is acceptable (overridable per stack). */
export const DEFAULT_TLS_EXEMPT: Readonly<Record<string, string>> = {
  dns: "public, unauthenticated zone data over DNS (UDP/TCP 53); integrity is DNSSEC's job, not TLS",
  game: "real-time game state only; players authenticate through the proxy's HTTPS, never on the game port",
};

const disabled = (v: unknown) => v === false || (typeof v === "object" && v !== null && (v as { enabled?: unknown }).enabled === false);

export const tlsOffered = modelPolicy({
  name: "sp-311-internet-services-offer-tls",
  description: "Every service published to the internet offers TLS for its protocol (HTTPS, STARTTLS/IMAPS/POP3S, FTPS/SFTP) and does not switch it off.",
  controls: CONTROLS,
  severity: "high",
  remediationSteps:
    "Keep TLS on in the service's settings; put services without TLS behind the proxy instead of on the internet network, or exempt the role with a reason in the policy config.",
  configSchema: {
    properties: { exempt: { type: "object", additionalProperties: { type: "string" }, description: "role → why it may face the internet without TLS" } },
  },
  validateModel: (model, report, args) => {
    const exempt = { ...DEFAULT_TLS_EXEMPT, ...(args.getConfig<{ exempt?: Record<string, string> }>().exempt ?? {}) };
    const internetFacing = new Set(model.plan.exposure.filter((e) => e.publishedTo === "internet").map((e) => e.service));
    for (const svc of model.plan.services.filter((s) => internetFacing.has(s.id))) {
      const where = servicePath(model.spec, svc.id);
      if (!TLS_OFFERED[svc.role] && !exempt[svc.role]) {
        report(
          `${where} (role ${svc.role}) is published to the internet but its role offers no TLS. Fix: reach it through the proxy, or exempt role ${svc.role} with a reason in the policy config.`,
        );
      }
      for (const f of findKeys(svc.settings, (k) => /^(tls|ssl|starttls|https)$/i.test(k))) {
        if (disabled(f.value)) report(`${where}: settings.${f.path} switches TLS off on an internet-facing service. Fix: remove it.`);
      }
    }
  },
});

const VERSION_KEY = (k: string) => /^(tls)?(min|minimum)(tls)?(version|protocol)$|^min(imum)?[-_]?tls$/i.test(k);

/** 1.0, 1.1, TLSv1, TLSv1.1, SSLv3 … are below TLS 1.2. */
export function belowTls12(value: unknown): boolean {
  if (typeof value !== "string" && typeof value !== "number") return false;
  const text = String(value).trim().toLowerCase();
  if (/^ssl/.test(text)) return true;
  const m = /^(?:tlsv?|tls_)?\s*(\d+)(?:[._](\d+))?$/.exec(text);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  return major < 1 || (major === 1 && minor < 2);
}

export const tlsMinimumVersion = modelPolicy({
  name: "sp-312-tls-minimum-version",
  description: "No service is configured to accept TLS below version 1.2.",
  controls: CONTROLS,
  severity: "high",
  remediationSteps: 'Remove the minimum-version setting (the roles default to TLSv1.2) or set it to "TLSv1.2" or "TLSv1.3".',
  validateModel: (model, report) => {
    for (const svc of model.plan.services) {
      for (const f of findKeys(svc.settings, VERSION_KEY)) {
        if (belowTls12(f.value))
          report(`${servicePath(model.spec, svc.id)}: settings.${f.path} is ${JSON.stringify(f.value)}, below TLS 1.2. Fix: set it to "TLSv1.2" or remove it.`);
      }
    }
  },
});

const PLAINTEXT_AUTH_KEY = (k: string) =>
  /^(allow)?[-_]?(insecure|plain(text)?|unencrypted|cleartext|clear)[-_]?(auth(entication)?|login|passwords?)$/i.test(k);
/** The inverse switch: a setting that demands TLS before login (the file role's `ftp.requireTls`), turned off. */
const REQUIRE_TLS_KEY = (k: string) => /^(require|force|enforce)[-_]?(tls|ssl|encryption)$/i.test(k);

export const noPlaintextAuth = modelPolicy({
  name: "sp-313-no-plaintext-auth",
  description: "No service allows authentication over an unencrypted connection.",
  controls: CONTROLS,
  severity: "critical",
  remediationSteps: "Remove the setting that allows plaintext authentication; clients must STARTTLS (or connect with TLS) before AUTH/LOGIN/USER.",
  validateModel: (model, report) => {
    for (const svc of model.plan.services) {
      for (const f of findKeys(svc.settings, PLAINTEXT_AUTH_KEY)) {
        if (f.value === true || f.value === "true")
          report(`${servicePath(model.spec, svc.id)}: settings.${f.path} allows passwords over plaintext. Fix: remove it.`);
      }
      for (const f of findKeys(svc.settings, REQUIRE_TLS_KEY)) {
        if (f.value === false || f.value === "false")
          report(
            `${servicePath(model.spec, svc.id)}: settings.${f.path} is false, so passwords may cross in clear (e.g. FTP USER/PASS before AUTH TLS). Fix: remove it (TLS is required by default).`,
          );
      }
    }
  },
});

export const TLS_POLICIES = [tlsOffered, tlsMinimumVersion, noPlaintextAuth];
