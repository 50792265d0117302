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
import { modelPolicy, resourcePolicy } from "../lib/policy";
import { describeResource } from "../lib/resources";
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

export const SECRET_POLICIES = [noPlaintextSecrets, noDefaultPasswords];
