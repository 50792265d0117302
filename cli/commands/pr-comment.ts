import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT, UsageError, type CliCommand } from "../command";
import { StackProblems } from "../stack";
import { computeDiff, loadSides } from "./diff";
import { GITHUB_COMMENT_LIMIT, renderComment } from "../../components/diff/comment";
import { InputError } from "../../components/diff/input";
import { parsePolicyViolations, type PolicyViolation } from "../../components/diff/policy";
import { groupPreview, parsePreview, partNames, type GroupedPreview } from "../../components/diff/preview";
import { collectSecrets } from "../../components/diff/secrets";

/** Environment variables whose values are scrubbed from the comment even if something quoted them. */
const DEFAULT_REDACT_ENV = ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "HCLOUD_TOKEN", "GITHUB_TOKEN"];

function readInput(path: string, cwd: string, what: string): string {
  const abs = resolve(cwd, path);
  if (!existsSync(abs)) throw new UsageError(`${what} file not found: ${path}`);
  return readFileSync(abs, "utf8");
}

export const command: CliCommand = {
  name: "pr-comment",
  summary: "render one pull-request comment (Markdown) for a stack: datacenter diff, resource steps, policy",
  usage: `Usage: serverpark pr-comment --git BASE..HEAD <stack> [options]
       serverpark pr-comment <base-config> <head-config> [options]

Renders the Markdown comment a pull request gets for one stack: a summary, what needs
attention (replicas that move, stateful resources replaced or deleted, redundancy drops,
mandatory policy violations), the datacenter-level diff (as \`serverpark diff\`), redundancy
and capacity headroom, then the resource steps of \`pulumi preview --json\` grouped by
datacenter part and the policy violations, collapsed. The comment starts with a hidden
marker (<!-- serverpark-preview stack=NAME -->) by which CI finds and edits it in place.
It stays under GitHub's ${GITHUB_COMMENT_LIMIT}-character limit (announcing what was cut),
prints no property or setting values (only their names), and is stable: the same input
gives the same text.

Options:
  --git BASE..HEAD     read the stack at two git refs (see \`serverpark diff --help\`)
  --preview FILE       output of \`pulumi preview --json\` (resource steps and diagnostics)
  --policy FILE        output of \`serverpark policy --json\`: {"violations": [{policy, controls,
                       enforcementLevel, detail, resource}]} (see components/diff/README.md)
  --stack NAME         stack name for the title and marker (default: from the config file name)
  --out FILE           write the comment to FILE instead of stdout
  --max-chars N        size limit (default ${GITHUB_COMMENT_LIMIT})
  --redact-env NAMES   comma-separated environment variables whose values are scrubbed
                       (default ${DEFAULT_REDACT_ENV.join(",")})
Exit codes: 0 written (also when a side has spec problems: the comment says so instead of
  showing a datacenter diff), 1 a preview or policy file is not what it should be, 2 usage error.`,
  options: {
    git: { type: "string" },
    preview: { type: "string" },
    policy: { type: "string" },
    stack: { type: "string" },
    out: { type: "string" },
    "max-chars": { type: "string" },
    "redact-env": { type: "string" },
  },
  positionals: { min: 1, max: 2 },
  run({ values, positionals }, io) {
    const maxChars = values["max-chars"] === undefined ? GITHUB_COMMENT_LIMIT : Number(values["max-chars"]);
    if (!Number.isInteger(maxChars) || maxChars < 2000 || maxChars > GITHUB_COMMENT_LIMIT)
      throw new UsageError(`--max-chars must be an integer from 2000 to ${GITHUB_COMMENT_LIMIT}`);
    let preview: GroupedPreview | undefined;
    let violations: PolicyViolation[] | undefined;
    const secrets = new Set<string>();
    try {
      const [base, head] = loadSides(values, positionals, io.cwd, { tolerateProblems: true });
      // A side that cannot be planned still gets a comment: why there is no datacenter diff,
      // and the preview and policy results there are.
      const diff = base.problem === undefined && head.problem === undefined ? computeDiff(base, head) : undefined;
      const warnings = [
        ...(head.problem === undefined ? [] : [`no datacenter diff: this change's stack config (${head.label}) has problems — ${head.problem}`]),
        ...(base.problem === undefined ? [] : [`no datacenter diff: the base (${base.label}) cannot be planned with this change's code — ${base.problem}`]),
      ];
      collectSecrets(base.config, secrets);
      collectSecrets(head.config, secrets);
      if (typeof values.preview === "string") {
        const text = readInput(values.preview, io.cwd, "--preview");
        const raw = parsePreview(text, values.preview);
        collectSecrets(raw, secrets);
        preview = groupPreview(raw, partNames([base.side, head.side]));
      }
      if (typeof values.policy === "string") violations = parsePolicyViolations(readInput(values.policy, io.cwd, "--policy"), values.policy);
      const envNames =
        typeof values["redact-env"] === "string"
          ? values["redact-env"]
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : DEFAULT_REDACT_ENV;
      for (const name of envNames) {
        const v = process.env[name];
        if (v) secrets.add(v);
      }
      const stack = typeof values.stack === "string" ? values.stack : head.stack;
      const range = typeof values.git === "string" ? values.git : undefined;
      const text = renderComment({
        stack,
        ...(diff ? { diff } : {}),
        ...(head.side ? { datacenter: head.side.spec.name } : {}),
        warnings,
        base: base.label,
        head: head.label,
        ...(preview ? { preview } : {}),
        ...(violations ? { violations } : {}),
        secrets,
        maxChars,
        fullCommand: range ? `npx serverpark diff --git ${range} ${positionals[0]}` : `npx serverpark diff ${positionals.join(" ")}`,
      });
      if (typeof values.out === "string") {
        writeFileSync(resolve(io.cwd, values.out), text);
        io.err(`${values.out}: ${text.length} characters`);
      } else io.out(text);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof StackProblems || e instanceof InputError) {
        io.err(e.message);
        return EXIT.invalid;
      }
      throw e;
    }
  },
};
