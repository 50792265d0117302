/**
 * A.8.5 Secure authentication: no empty, default or plaintext password in the stack.
 *
 * Why two policies: CrossGuard unwraps Pulumi secrets before a policy sees them, so no policy
 * can ask "is this value a secret?". What it can see is *where* a value came from:
 * `serverpark:datacenter` is plain stack config (a `secure:` value there would not parse as
 * the spec), so any credential inside the spec the `Datacenter` model carries was written in
 * plaintext (sp-211). Values that reach resources — a secret from `pulumi config set --secret`
 * included — are checked for being empty or a well-known default, and for being passed in
 * environment variables, which `docker inspect` shows to anyone with the socket (sp-212).
 * Values unknown during preview (a generated key) are skipped; the analyzer runs again on
 * `pulumi up`, when they are known.
 */
import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { modelPolicy, resourcePolicy } from "../lib/policy";
import { describeResource, TYPES } from "../lib/resources";
import { findKeys, isDefaultPassword, isSecretKey, UNKNOWN, unproxied } from "../lib/settings";

const CONTROLS = ["A.8.5"];

export const noPlaintextSecrets = modelPolicy({
  name: "sp-211-no-plaintext-secrets",
  description: "No password, token or key is written in plain stack config; credentials are Pulumi secrets.",
  controls: CONTROLS,
  severity: "critical",
  remediationSteps:
    "Delete the value from serverpark:datacenter and store it with `pulumi config set --secret <key> <value>` (it is then encrypted in the stack file and in state).",
  validateModel: (model, report) => {
    model.spec.services.forEach((svc, i) => {
      for (const f of findKeys(svc.settings, isSecretKey, "settings")) {
        if (typeof f.value !== "string" && typeof f.value !== "number") continue;
        report(
          `serverpark:datacenter.services[${i}].${f.path} (service ${svc.id}) holds a credential in plaintext stack config. Fix: remove it and run \`pulumi config set --secret\` for it.`,
        );
      }
    });
  },
});

/** `PASSWORD=…`, `DB_TOKEN=…`, but not `PASSWORD_FILE=/run/secrets/db`. */
const SECRET_ENV = /^[A-Z0-9_]*(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIALS?)$/i;

export const noDefaultPasswords = resourcePolicy({
  name: "sp-212-no-default-or-exposed-passwords",
  description: "No resource gets an empty or default password, and no container gets a credential in an environment variable.",
  controls: CONTROLS,
  severity: "critical",
  remediationSteps:
    "Generate the password (random.RandomPassword) or store it with `pulumi config set --secret`, and hand it to the container as a file (uploads), never as an environment variable.",
  validateResource: (args, report) => {
    const who = describeResource(args.type, args.name, args.props);
    for (const f of findKeys(args.props, isSecretKey)) {
      if (isDefaultPassword(f.value))
        report(
          `${who}: ${f.path} is ${f.value === "" ? "empty" : "a well-known default password"}. Fix: generate one (random.RandomPassword) or set it with \`pulumi config set --secret\`.`,
        );
    }
    const props = unproxied(args.props);
    for (const env of (Array.isArray(props.envs) ? props.envs : []) as unknown[]) {
      if (typeof env !== "string" || env === UNKNOWN) continue;
      const name = env.split("=", 1)[0]!;
      if (SECRET_ENV.test(name))
        report(
          `${who} passes the credential ${name} in an environment variable (visible to docker inspect and to every process). Fix: upload it as a file and pass ${name}_FILE instead.`,
        );
    }
    // The runtime config file every replica receives: role settings, checked for default passwords.
    for (const upload of (Array.isArray(props.uploads) ? props.uploads : []) as { file?: string; content?: string }[]) {
      if (typeof upload.content !== "string" || !upload.file?.endsWith(".json")) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(upload.content);
      } catch {
        continue;
      }
      for (const f of findKeys(parsed, isSecretKey)) {
        if (isDefaultPassword(f.value))
          report(
            `${who}: ${upload.file} sets ${f.path} to ${f.value === "" ? "an empty" : "a well-known default"} password. Fix: use a generated password or a Pulumi secret.`,
          );
      }
    }
  },
});

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
/** File names that hold credentials: a credential word between separators, a private key's usual names and extensions. */
const CREDENTIAL_FILE = [
  /(^|[._-])(passwords?|pass|passphrase|secrets?|tokens?|credentials?|api[-_]?keys?|shadow|gshadow)([._-]|$)/i,
  /^id_(rsa|dsa|ecdsa|ed25519)$/,
  /\.(key|p12|pfx|jks)$/i,
];
/** Public by design although the name looks like a credential's. */
const PUBLIC_FILE = new Set(["/etc/passwd", "/etc/group"]);
const isCredentialFile = (path: string) => !PUBLIC_FILE.has(path) && CREDENTIAL_FILE.some((re) => re.test(path.slice(path.lastIndexOf("/") + 1)));
/** `docker login -p x`, `--password x`, `--password=x` (but not `--password-stdin`). */
const PASSWORD_FLAG = /(\s-p\s+\S|--password(=|\s+)(?!-)\S)/;

function decoded(content: string, encoding: string | undefined): string {
  try {
    switch ((encoding ?? "").toLowerCase()) {
      case "b64":
      case "base64":
        return Buffer.from(content, "base64").toString("utf8");
      case "gz+b64":
      case "gzip+b64":
      case "gz+base64":
      case "gzip+base64":
        return gunzipSync(Buffer.from(content, "base64")).toString("utf8");
      default:
        return content;
    }
  } catch {
    return content;
  }
}

/** What in a server's user data is a secret: each finding says what and where. */
export function secretsInUserData(userData: string): string[] {
  const found: string[] = [];
  let doc: any;
  try {
    doc = userData.startsWith("#cloud-config") ? parse(userData) : undefined;
  } catch {
    doc = undefined;
  }
  const files = (Array.isArray(doc?.write_files) ? doc.write_files : []) as { path?: unknown; content?: unknown; encoding?: unknown }[];
  for (const f of files) {
    const path = typeof f.path === "string" ? f.path : "?";
    const content = typeof f.content === "string" ? decoded(f.content, typeof f.encoding === "string" ? f.encoding : undefined) : "";
    if (PRIVATE_KEY.test(content)) found.push(`a private key in ${path}`);
    else if (isCredentialFile(path) && content.trim() !== "") found.push(`a credential file ${path}`);
    else if (/^\s*[{[]/.test(content)) {
      try {
        for (const k of findKeys(JSON.parse(content), isSecretKey)) {
          if (typeof k.value === "string" && k.value !== "") found.push(`${k.path} in ${path}`);
        }
      } catch {
        // not JSON
      }
    }
  }
  if (doc && typeof doc === "object") {
    const { write_files: _files, ...rest } = doc as Record<string, unknown>;
    for (const k of findKeys(rest, isSecretKey)) if ((typeof k.value === "string" && k.value !== "") || typeof k.value === "number") found.push(`${k.path}`);
  }
  // Anywhere else (a runcmd line, a shell script as user data).
  if (!found.some((f) => f.startsWith("a private key")) && PRIVATE_KEY.test(userData)) found.push("a private key");
  for (const line of userData.split("\n")) if (/docker\s+login/.test(line) && PASSWORD_FLAG.test(line)) found.push("a password on a docker login command line");
  return [...new Set(found)];
}

export const noSecretsInUserData = resourcePolicy({
  name: "sp-213-no-secrets-in-user-data",
  description: "No Hetzner server's user data carries a secret (private key, password, token, credential file); user data only bootstraps.",
  controls: ["A.5.17", "A.8.5"],
  severity: "critical",
  remediationSteps:
    "Keep user data to bootstrap (packages, the deployment's SSH public key) and deliver keys, passwords and credential files after boot over SSH (components/targets/hetzner/deploy.ts), as Pulumi secrets.",
  validateResource: (args, report) => {
    if (args.type !== TYPES.hcloudServer) return args.notApplicable("applies to Hetzner Cloud servers");
    const props = unproxied(args.props);
    const userData = props.userData;
    if (userData === undefined || userData === null || userData === "") return;
    if (typeof userData !== "string" || userData === UNKNOWN) return args.notApplicable("user data unknown until the deployment (preview)");
    const who = describeResource(args.type, args.name, props);
    for (const finding of secretsInUserData(userData))
      report(
        `${who}: its user data carries ${finding}. User data is readable by every process on the server that reaches the metadata service (169.254.169.254), and the provider keeps it. Fix: deliver it after boot over SSH and keep user data to bootstrap.`,
      );
  },
});

export const SECRET_POLICIES = [noPlaintextSecrets, noDefaultPasswords, noSecretsInUserData];
