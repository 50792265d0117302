/**
 * The logins the chaos probes use to prove service (an IMAP LOGIN, an SFTP login, a db
 * query), with the passwords the deployment generated. Replicas hold only hashes (mail, file)
 * or the password file (db) inside a container that may be dark; the operator's copy is the
 * deployment's state, read from (the first that exists):
 *
 * 1. `--secrets <file>`: JSON, resource name → value (e.g. `{"fra1-svc-mail-user-postmaster":
 *    "…"}`), for a deployment made some other way;
 * 2. `serverpark lab`'s state, `.serverpark/lab/<stack>.json` (mode 0600), which keeps every
 *    generated password under its resource name;
 * 3. a `pulumi up` deployment: `pulumi stack export --show-secrets --stack <stack>`, when the
 *    `pulumi` CLI is on PATH.
 *
 * Without any, the probes stop at each protocol's handshake and the command says so. The
 * passwords stay in memory: never printed, never on a command line (the private-network
 * helper reads them on stdin).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { dbSettingsSchema } from "../../contracts/settings/db";
import { fileSettingsSchema } from "../../contracts/settings/file";
import { mailSettingsSchema } from "../../contracts/settings/mail";
import type { DatacenterPlan } from "../../components/plan/types";
import { readState } from "../../lab/state";

const run = promisify(execFile);
const PASSWORD_TYPE = "random:index/randomPassword:RandomPassword";

/** Resource name → generated password. */
export interface DeploymentSecrets {
  /** Where they were read (for the command's one line about it); never the values. */
  readonly source: string;
  password(resourceName: string): string | undefined;
}

export function secretsFromFile(path: string): DeploymentSecrets {
  const values = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  return { source: path, password: (name) => (typeof values[name] === "string" ? values[name] : undefined) };
}

/** `serverpark lab` state of the stack, if the lab deployed it. */
export function secretsFromLab(root: string, stack: string): DeploymentSecrets | undefined {
  const state = readState(root, stack);
  if (!state) return undefined;
  return {
    source: `serverpark lab state (.serverpark/lab/${stack}.json)`,
    password: (name) => {
      const value = state.outputs[`${PASSWORD_TYPE}::${name}`]?.values.result;
      return typeof value === "string" ? value : undefined;
    },
  };
}

interface ExportedResource {
  readonly type?: string;
  readonly urn?: string;
  readonly outputs?: { readonly result?: unknown };
}

/** The generated passwords of a `pulumi export --show-secrets` document. */
export function passwordsOfExport(exported: { deployment?: { resources?: readonly ExportedResource[] } }): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of exported.deployment?.resources ?? []) {
    if (r.type !== PASSWORD_TYPE || !r.urn) continue;
    const name = r.urn.slice(r.urn.lastIndexOf("::") + 2);
    const result = r.outputs?.result;
    // --show-secrets gives the plain value; without it a secret is `{ "4dabf18193072939515e22adb298388d": …, ciphertext }`.
    if (typeof result === "string") out.set(name, result);
  }
  return out;
}

/** A `pulumi up` deployment's passwords, when the Pulumi CLI is installed (not fetched: that needs the network). */
export async function secretsFromPulumi(stack: string, cwd: string): Promise<DeploymentSecrets | undefined> {
  try {
    const { stdout } = await run("pulumi", ["stack", "export", "--show-secrets", "--stack", stack], { cwd, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
    const passwords = passwordsOfExport(JSON.parse(stdout) as Parameters<typeof passwordsOfExport>[0]);
    return passwords.size > 0 ? { source: `pulumi stack export --show-secrets --stack ${stack}`, password: (name) => passwords.get(name) } : undefined;
  } catch {
    return undefined;
  }
}

/** One login a probe uses. */
export interface ProbeLogin {
  readonly user: string;
  readonly password: string;
  readonly database?: string;
}

/** service id → the login its probe uses: db (its application login), mail and file (their first user). */
export type ProbeLogins = ReadonlyMap<string, ProbeLogin>;

/**
 * The logins of the plan's db, mail and file services whose passwords the deployment has,
 * named as the role hooks name their resources (components/roles/{db,mail,file}.ts).
 */
export function probeLogins(plan: DatacenterPlan, secrets: DeploymentSecrets | undefined): ProbeLogins {
  const out = new Map<string, ProbeLogin>();
  if (!secrets) return out;
  for (const s of plan.services) {
    const prefix = `${plan.datacenter}-svc-${s.id}`;
    let login: { user: string; resource: string; database?: string } | undefined;
    if (s.role === "db") {
      const settings = dbSettingsSchema.safeParse(s.settings);
      if (settings.success) login = { user: settings.data.user, database: settings.data.databases[0]!, resource: `${prefix}-app-password` };
    } else if (s.role === "mail") {
      const user = mailSettingsSchema.safeParse(s.settings).data?.users[0];
      if (user) login = { user, resource: `${prefix}-user-${user}` };
    } else if (s.role === "file") {
      const user = fileSettingsSchema.safeParse(s.settings).data?.users[0]?.name;
      if (user) login = { user, resource: `${prefix}-user-${user}` };
    }
    const password = login && secrets.password(login.resource);
    if (login && password) out.set(s.id, { user: login.user, password, ...(login.database ? { database: login.database } : {}) });
  }
  return out;
}
