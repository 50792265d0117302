/**
 * A.5.17 Authentication information and A.8.3 Information access restriction, judged on what
 * is deployed: the credentials the stack generates are strong enough to need no rotation
 * policy of their own (length and entropy of every RandomPassword — 112 bits by default, the
 * security strength NIST SP 800-57 asks of keys in use today — salt length, private-key size), and every role that holds or shows data is given the credentials file it checks
 * logins against, so no data store starts without one.
 */
import {
  DB_HA_MONITOR_PASSWORD_PATH,
  DB_HA_REPLICATION_PASSWORD_PATH,
  DB_PASSWORD_PATH,
  FILE_CREDENTIALS_PATH,
  MAIL_CREDENTIALS_PATH,
  NOC_PASSWORD_PATH,
} from "../../contracts/paths";
import { containerPolicy, resourcePolicy } from "../lib/policy";
import { unproxied } from "../lib/settings";

const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";
const RANDOM_BYTES = "random:index/randomBytes:RandomBytes";
const PRIVATE_KEY = "tls:index/privateKey:PrivateKey";
/** The random provider's special characters when `overrideSpecial` is not set. */
const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** Bits of entropy of a RandomPassword from its length and character classes. */
export function passwordBits(p: Record<string, unknown>): number {
  const on = (k: string) => p[k] !== false;
  const alphabet =
    (on("upper") ? 26 : 0) +
    (on("lower") ? 26 : 0) +
    (on("numeric") ? 10 : 0) +
    (on("special") ? (typeof p.overrideSpecial === "string" ? new Set(p.overrideSpecial).size : DEFAULT_SPECIAL.length) : 0);
  const length = typeof p.length === "number" ? p.length : 0;
  return alphabet <= 1 ? 0 : Math.floor(length * Math.log2(alphabet));
}

export const generatedCredentialsStrong = resourcePolicy({
  name: "sp-215-generated-credentials-strong",
  description:
    "Every generated password is at least 20 characters and 112 bits of entropy, every generated salt at least 16 bytes, every private key ECDSA P-256 or stronger, Ed25519, or RSA of 3072 bits or more.",
  controls: ["A.5.17"],
  severity: "high",
  remediationSteps:
    "Raise the RandomPassword's length (or allow more character classes), the RandomBytes' length to 16 or more, and generate keys as ECDSA P-256/P-384, Ed25519 or RSA 3072+.",
  configSchema: {
    properties: {
      minLength: { type: "integer", minimum: 8, default: 20 },
      minBits: { type: "integer", minimum: 64, default: 112 },
    },
  },
  validateResource: (args, report) => {
    const p = unproxied(args.props) as Record<string, unknown>;
    if (args.type === RANDOM_PASSWORD) {
      const { minLength = 20, minBits = 112 } = args.getConfig<{ minLength?: number; minBits?: number }>();
      const length = typeof p.length === "number" ? p.length : 0;
      const bits = passwordBits(p);
      if (length < minLength || bits < minBits)
        report(
          `RandomPassword ${args.name} is ${length} characters (${bits} bits of entropy); the stack requires at least ${minLength} characters and ${minBits} bits. Fix: raise its length.`,
        );
    } else if (args.type === RANDOM_BYTES) {
      if (typeof p.length !== "number" || p.length < 16)
        report(`RandomBytes ${args.name} is ${String(p.length)} bytes; a salt or key needs at least 16. Fix: raise its length to 16 or more.`);
    } else if (args.type === PRIVATE_KEY) {
      const algorithm = String(p.algorithm ?? "RSA");
      const weak =
        algorithm === "RSA"
          ? (typeof p.rsaBits === "number" ? p.rsaBits : 2048) < 3072
          : algorithm === "ECDSA"
            ? !["P256", "P384", "P521"].includes(String(p.ecdsaCurve ?? "P224"))
            : algorithm !== "ED25519";
      if (weak)
        report(
          `PrivateKey ${args.name} is ${algorithm}${algorithm === "RSA" ? ` ${String(p.rsaBits ?? 2048)} bits` : algorithm === "ECDSA" ? ` ${String(p.ecdsaCurve ?? "P224")}` : ""}, weaker than the stack allows. Fix: use ECDSA P256 or stronger, ED25519, or RSA with rsaBits 3072+.`,
        );
    } else args.notApplicable("applies to generated passwords, salts and private keys");
  },
});

/** The credentials file each role checks logins against (contracts/paths.ts). */
const CREDENTIALS: Readonly<Record<string, string>> = {
  db: DB_PASSWORD_PATH,
  file: FILE_CREDENTIALS_PATH,
  mail: MAIL_CREDENTIALS_PATH,
  noc: NOC_PASSWORD_PATH,
};

export const dataStoresRequireLogin = containerPolicy({
  name: "sp-214-data-stores-require-login",
  description: "Every role that stores or shows data (db, file, mail, the NOC) is given the credentials file it checks every login against.",
  controls: ["A.8.3"],
  severity: "critical",
  remediationSteps:
    "Deploy the replica through the Serverpark target, which generates the role's users and passwords and places them in the container's secrets folder (contracts/paths.ts).",
  validateContainer: ({ role, files, who }, report, args) => {
    // An HA db group's monitor (its login's password, no replication password: components/roles/db.ts)
    // checks the keepers' logins against that password; it holds no application data.
    const monitor = role === "db" && files.includes(DB_HA_MONITOR_PASSWORD_PATH) && !files.includes(DB_HA_REPLICATION_PASSWORD_PATH);
    const wanted = monitor ? DB_HA_MONITOR_PASSWORD_PATH : CREDENTIALS[role];
    if (!wanted) return args.notApplicable(`role ${role} keeps no data behind a login`);
    if (!files.includes(wanted))
      report(`${who} (role ${role}) is not given ${wanted}: it has no credentials to check logins against. Fix: deploy it with its generated credentials.`);
  },
});

export const CREDENTIAL_POLICIES = [generatedCredentialsStrong, dataStoresRequireLogin];
