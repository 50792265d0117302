import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { EXIT, UsageError, type CliCommand } from "../command";
import { loadPlan } from "../stack";
import { findProjectRoot } from "../../components/spec/load";
import { buildReport } from "../../components/compliance/report";
import { renderHtml, renderMarkdown } from "../../components/compliance/render";
import { POLICIES } from "../../policies/rules";
import { checkStack } from "../../components/compliance/check";
import { DEFAULT_MAX_AGE_DAYS, judgeEvidence, readEvidenceDir, stackFileHash, type EvidenceJudgement } from "../../components/compliance/evidence";
import { parseTags, readPolicyConfig } from "./policy";

const FORMATS = ["md", "html"] as const;

/** The judged evidence directory of --evidence, or undefined without it. */
function evidenceFor(values: Record<string, unknown>, file: { stack: string; path: string }, cwd: string): EvidenceJudgement | undefined {
  if (values["max-age"] !== undefined && values.evidence === undefined) throw new UsageError("--max-age needs --evidence <dir>");
  if (typeof values.evidence !== "string") return undefined;
  const maxAgeDays = values["max-age"] === undefined ? DEFAULT_MAX_AGE_DAYS : Number(values["max-age"]);
  if (!Number.isFinite(maxAgeDays) || maxAgeDays <= 0) throw new UsageError(`--max-age: expected a number of days > 0, got "${String(values["max-age"])}"`);
  // An unreadable directory or a file that is not evidence is an error of the input (exit 1), never skipped.
  return judgeEvidence(readEvidenceDir(resolve(cwd, values.evidence)), { stack: file.stack, stackHash: stackFileHash(file.path), now: new Date(), maxAgeDays });
}

export const command: CliCommand = {
  name: "compliance",
  summary: "write the ISO 27001 Statement-of-Applicability report of a stack (Markdown and HTML)",
  usage: `Usage: serverpark compliance <stack> [--out <dir>] [--format md,html] [--json] [--config <file>] [--tag key=value ...]
                             [--evidence <dir> [--max-age <days>]]

Evaluates the policy pack on the stack (as \`serverpark policy\` does) and writes a
Statement-of-Applicability style report: every ISO/IEC 27001:2022 Annex A control, the
policies that evidence it, and pass / fail for this stack with the failing resources.
Controls the pack does not address are listed as "not addressed", never left out.
With --evidence, the results of real runs (\`serverpark chaos --evidence <dir>\`) prove the
controls they exercise: a run on this stack file within --max-age days passes (or fails) its
controls with the run's date; an older run, or one on another version of the stack file
(its SHA-256 differs), shows them as STALE, never as pass.
Writes <dir>/compliance-<stack>.md and .html. Exits 0 once written (use
\`serverpark policy\` as the gate).

Options:
  --out <dir>       where to write (default: reports/)
  --format <list>   md, html or both (default md,html)
  --json            print the report data as JSON instead of writing files
  --config <file>   policy pack config (default policies/config/<stack>.json)
  --tag k=v         a stack tag, e.g. --tag serverpark:environment=production
  --evidence <dir>  read serverpark-evidence/v1 files (*.json) from <dir>
  --max-age <days>  how long a run stays valid evidence (default ${DEFAULT_MAX_AGE_DAYS})`,
  options: {
    out: { type: "string" },
    format: { type: "string" },
    json: { type: "boolean" },
    config: { type: "string" },
    tag: { type: "string", multiple: true },
    evidence: { type: "string" },
    "max-age": { type: "string" },
  },
  positionals: { min: 1, max: 1 },
  async run({ values, positionals }, io) {
    const formats = (typeof values.format === "string" ? values.format : "md,html").split(",").map((f) => f.trim());
    for (const f of formats) if (!(FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format: unknown format "${f}" (expected md, html)`);
    const { file } = loadPlan(positionals[0]!, io.cwd);
    const config = readPolicyConfig(values.config, io.cwd);
    let runs: EvidenceJudgement | undefined;
    try {
      runs = evidenceFor(values, file, io.cwd);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      io.err(`serverpark compliance: --evidence ${String(values.evidence)}: ${(e as Error).message}`);
      return EXIT.invalid;
    }
    const check = await checkStack(file, { root: findProjectRoot(io.cwd), ...(config ? { config } : {}), stackTags: parseTags(values.tag) });
    const report = buildReport(check, POLICIES, runs);
    if (values.json === true) {
      io.out(JSON.stringify(report, null, 2));
      return EXIT.ok;
    }
    const dir = resolve(io.cwd, typeof values.out === "string" ? values.out : "reports");
    mkdirSync(dir, { recursive: true });
    for (const f of formats) {
      const path = join(dir, `compliance-${check.stack}.${f}`);
      writeFileSync(path, f === "md" ? renderMarkdown(report) : renderHtml(report));
      io.err(`wrote ${relative(io.cwd, path) || path}`);
    }
    const s = report.summary;
    io.out(
      `${check.stack}: ${s.pass} pass, ${s.fail} fail, ${s.advisory} advisory, ${s.stale} stale, ${s["no-evidence"]} no evidence, ${s["not-applicable"]} not applicable, ${s["not-addressed"]} not addressed (of ${s.controls} Annex A controls)`,
    );
    return EXIT.ok;
  },
};
