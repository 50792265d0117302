/**
 * The compliance report — the Statement of Applicability — as Markdown (for pull requests and
 * the repository) and as a single self-contained HTML page (for auditors: no scripts, no
 * external assets). Both render the same `ComplianceReport`, control by control in Annex A
 * order: applicable or not and why, how it is checked (policy, evidence, organisational), the
 * result, and the evidence (policies' verdicts; runs with their date and file).
 */
import type { EvidenceFinding } from "./evidence";
import type { ComplianceReport, ControlResult, ControlRow, PolicyResult } from "./report";

const CONTROL_LABEL: Record<ControlResult, string> = {
  pass: "PASS",
  fail: "FAIL",
  advisory: "ADVISORY",
  stale: "STALE",
  "no-evidence": "NO EVIDENCE",
  "not-applicable": "NOT APPLICABLE",
  "not-addressed": "NOT ADDRESSED",
};
const POLICY_LABEL: Record<PolicyResult, string> = { pass: "pass", fail: "FAIL", advisory: "advisory", "not-applicable": "n/a", disabled: "disabled" };

const THEME_TITLE = {
  organizational: "A.5 Organizational controls",
  people: "A.6 People controls",
  physical: "A.7 Physical controls",
  technological: "A.8 Technological controls",
} as const;
type Theme = keyof typeof THEME_TITLE;
const THEMES = Object.keys(THEME_TITLE) as Theme[];

function summaryLine(r: ComplianceReport): string {
  const s = r.summary;
  return `${s.controls} Annex A controls: ${s.pass} pass, ${s.fail} fail, ${s.advisory} advisory findings, ${s.stale} with stale evidence, ${s["no-evidence"]} awaiting evidence from a run, ${s["not-applicable"]} not applicable to this stack, ${s["not-addressed"]} not addressed by this pack (organisational). ${s.policies} policies, ${s.mandatoryViolations} mandatory violations.`;
}

function sourceLine(r: ComplianceReport): string {
  const runs = r.evidence
    ? ` Evidence from runs: files judged against the stack file ${r.evidence.stackHash.slice(0, 19)}…, valid for ${r.evidence.maxAgeDays} days${r.evidence.otherStacks.length > 0 ? ` (${r.evidence.otherStacks.length} files for other stacks ignored)` : ""}.`
    : " No evidence directory given (`--evidence <dir>`): controls proven only by runs await evidence.";
  return `Checks: policy pack \`${r.pack.name}\` v${r.pack.version}, evaluated on the stack's resources as \`pulumi preview\` would register them. Policy config: ${r.configSource}.${runs}`;
}

/** One run, e.g. `chaos run 2026-12-01T10:00:00.000Z (chaos-local-….json): pass — every service …`. */
function runLine(e: EvidenceFinding): string {
  return `${e.title} ${e.date} (${e.file}): ${e.result === "stale" ? "STALE" : e.result === "fail" ? "FAIL" : "pass"} — ${e.note}`;
}

const applicable = (c: ControlRow) => (c.statement.applicable ? "yes" : "no");
/** Only organisational, with nothing to say beyond the theme's paragraph. */
const plainOrganisational = (c: ControlRow) =>
  c.statement.methods.length === 1 && c.statement.methods[0] === "organisational" && !c.statement.how.includes("not checked technically");
/** What the theme's organisational controls rest on, said once above its table. */
const themeNote = (rows: readonly ControlRow[]) => rows.find(plainOrganisational)?.statement.why.replace(/^applicable: /, "");
const methods = (c: ControlRow) => c.statement.methods.join(", ");

/** The short evidence list of the table. */
function evidenceItems(c: ControlRow): string[] {
  const items = [...c.policies.map((p) => `\`${p.id}\` ${POLICY_LABEL[p.result]}`), ...c.evidence.map((e) => `${e.title} ${e.date.slice(0, 10)} ${e.result}`)];
  if (items.length > 0) return items;
  return [c.result === "no-evidence" ? "no run supplied" : "not addressed by this pack"];
}

const md = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderMarkdown(r: ComplianceReport): string {
  const out: string[] = [`# ISO/IEC 27001:2022 Statement of Applicability — stack \`${r.stack}\``, "", sourceLine(r), "", `**${summaryLine(r)}**`, ""];
  for (const theme of THEMES) {
    out.push(`## ${THEME_TITLE[theme]}`, "", "| Control | Title | Applicable | Checked by | Result | Evidence |", "|---|---|---|---|---|---|");
    const rows = r.controls.filter((c) => c.theme === theme);
    for (const c of rows)
      out.push(`| ${c.id} | ${md(c.title)} | ${applicable(c)} | ${methods(c)} | ${CONTROL_LABEL[c.result]} | ${evidenceItems(c).join("<br>")} |`);
    out.push("");
    const note = themeNote(rows);
    if (note) out.push(`Controls checked organisationally here: ${md(note)}.`, "");
    for (const c of rows.filter((x) => !plainOrganisational(x))) out.push(...controlDetailMd(c));
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n") + "\n";
}

function controlDetailMd(c: ControlRow): string[] {
  const out = [`### ${c.id} ${c.title} — ${CONTROL_LABEL[c.result]}`, "", `- Applicability: ${md(c.statement.why)}`, `- Checked by: ${md(c.statement.how)}`];
  for (const p of c.policies) {
    out.push(
      `- **\`${p.id}\`** (${p.severity}, ${p.enforcementLevel}): ${p.description} — **${POLICY_LABEL[p.result]}**${p.result === "pass" ? ` (${p.checked} checked)` : ""}${p.notApplicable ? ` — ${p.notApplicable}` : ""}`,
    );
    for (const f of p.failures) out.push(`  - ${f.where}: ${md(f.detail)}`);
    if (p.failures.length > 0) out.push(`  - Remediation: ${md(p.remediation)}`);
  }
  for (const e of c.evidence) out.push(`- **Evidence**: ${md(runLine(e))}`);
  out.push("");
  return out;
}

const esc = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:80rem;color:#1b1f24;padding:0 1rem}
table{border-collapse:collapse;width:100%;margin:0 0 1.5rem}th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}.r{font-weight:600;white-space:nowrap}.pass{color:#1a7f37}.fail{color:#cf222e}.advisory,.stale{color:#9a6700}
.no-evidence,.not-applicable,.not-addressed,.disabled{color:#57606a}.how{color:#57606a;font-size:12px}code{font-size:12px}ul{margin:.25rem 0 .25rem 1.2rem;padding:0}
td:first-child{white-space:nowrap}details summary{cursor:pointer}`;

function evidenceHtml(c: ControlRow): string {
  if (c.policies.length === 0 && c.evidence.length === 0) return `<span class="${c.result}">${esc(evidenceItems(c)[0]!)}</span>`;
  const policies = c.policies.map((p) => {
    const failures = p.failures.map((f) => `<li>${esc(f.where)}: ${esc(f.detail)}</li>`).join("");
    const fix = p.failures.length > 0 ? `<li>Remediation: ${esc(p.remediation)}</li>` : "";
    const na = p.notApplicable ? ` — ${esc(p.notApplicable)}` : "";
    return `<div><code>${esc(p.id)}</code> <span class="${p.result}">${POLICY_LABEL[p.result]}</span> (${esc(p.severity)}, ${esc(p.enforcementLevel)}): ${esc(p.description)}${na}${failures || fix ? `<ul>${failures}${fix}</ul>` : ""}</div>`;
  });
  const runs = c.evidence.map((e) => `<div class="${e.result}">Evidence: ${esc(runLine(e))}</div>`);
  return [...policies, ...runs].join("");
}

export function renderHtml(r: ComplianceReport): string {
  const sections = THEMES.map((theme) => {
    const controls = r.controls.filter((c) => c.theme === theme);
    const rows = controls.map((c) => {
      const small = (text: string) => (plainOrganisational(c) ? "" : `<div class="how">${esc(text)}</div>`);
      return `<tr id="${esc(c.id)}"><td>${esc(c.id)}</td><td>${esc(c.title)}</td><td>${applicable(c)}${small(c.statement.why)}</td><td>${esc(methods(c))}${small(c.statement.how)}</td><td class="r ${c.result}">${CONTROL_LABEL[c.result]}</td><td>${evidenceHtml(c)}</td></tr>`;
    });
    const note = themeNote(controls);
    return `<h2>${THEME_TITLE[theme]}</h2>\n${note ? `<p class="how">Controls checked organisationally here: ${esc(note)}.</p>\n` : ""}<table><thead><tr><th>Control</th><th>Title</th><th>Applicable</th><th>Checked by</th><th>Result</th><th>Evidence</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ISO/IEC 27001:2022 SoA — ${esc(r.stack)}</title><style>${STYLE}</style></head>
<body>
<h1>ISO/IEC 27001:2022 Statement of Applicability — stack <code>${esc(r.stack)}</code></h1>
<p>${esc(sourceLine(r)).replace(/`([^`]+)`/g, "<code>$1</code>")}</p>
<p><strong>${esc(summaryLine(r))}</strong></p>
${sections.join("\n")}
</body></html>
`;
}
