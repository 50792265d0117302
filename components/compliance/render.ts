/**
 * The compliance report as Markdown (for pull requests and the repository) and as a single
 * self-contained HTML page (for auditors: no scripts, no external assets). Both render the
 * same `ComplianceReport`, control by control in Annex A order.
 */
import type { EvidenceFinding } from "./evidence";
import type { ComplianceReport, ControlResult, ControlRow, PolicyResult } from "./report";

const CONTROL_LABEL: Record<ControlResult, string> = {
  pass: "PASS",
  fail: "FAIL",
  advisory: "ADVISORY",
  stale: "STALE",
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

function summaryLine(r: ComplianceReport): string {
  const s = r.summary;
  return `${s.controls} Annex A controls: ${s.pass} pass, ${s.fail} fail, ${s.advisory} advisory findings, ${s.stale} with stale evidence, ${s["not-applicable"]} not applicable to this stack, ${s["not-addressed"]} not addressed by this pack. ${s.policies} policies, ${s.mandatoryViolations} mandatory violations.`;
}

/** One run, e.g. `chaos run 2026-12-01T10:00:00.000Z (chaos-local-….json): pass — every service …`. */
function runLine(e: EvidenceFinding): string {
  return `${e.title} ${e.date} (${e.file}): ${e.result === "stale" ? "STALE" : e.result === "fail" ? "FAIL" : "pass"} — ${e.note}`;
}

const md = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderMarkdown(r: ComplianceReport): string {
  const { pack } = r;
  const out: string[] = [
    `# ISO/IEC 27001:2022 Statement of Applicability — stack \`${r.stack}\``,
    "",
    `Evidence: policy pack \`${pack.name}\` v${pack.version}, evaluated on the stack's resources as \`pulumi preview\` would register them. Policy config: ${r.configSource}.`,
    "",
    `**${summaryLine(r)}**`,
    "",
  ];
  for (const theme of Object.keys(THEME_TITLE) as (keyof typeof THEME_TITLE)[]) {
    out.push(`## ${THEME_TITLE[theme]}`, "", "| Control | Title | Result | Evidence (policies) |", "|---|---|---|---|");
    const rows = r.controls.filter((c) => c.theme === theme);
    for (const c of rows) {
      const items = [
        ...c.policies.map((p) => `\`${p.id}\` ${POLICY_LABEL[p.result]}`),
        ...c.evidence.map((e) => `${e.title} ${e.date.slice(0, 10)} ${e.result}`),
      ];
      const evidence = items.length === 0 ? "not addressed by this pack" : items.join("<br>");
      out.push(`| ${c.id} | ${md(c.title)} | ${CONTROL_LABEL[c.result]} | ${evidence} |`);
    }
    out.push("");
    for (const c of rows.filter((x) => x.policies.length > 0 || x.evidence.length > 0)) out.push(...controlDetailMd(c));
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n") + "\n";
}

function controlDetailMd(c: ControlRow): string[] {
  const out = [`### ${c.id} ${c.title} — ${CONTROL_LABEL[c.result]}`, ""];
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

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1b1f24}
table{border-collapse:collapse;width:100%;margin:0 0 1.5rem}th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.r{font-weight:600;white-space:nowrap}.pass{color:#1a7f37}.fail{color:#cf222e}.advisory{color:#9a6700}
.stale{color:#9a6700}.not-applicable,.not-addressed,.disabled{color:#57606a}code{font-size:12px}ul{margin:.25rem 0 .25rem 1.2rem;padding:0}`;

export function renderHtml(r: ComplianceReport): string {
  const { pack } = r;
  const sections: string[] = [];
  for (const theme of Object.keys(THEME_TITLE) as (keyof typeof THEME_TITLE)[]) {
    const rows = r.controls
      .filter((c) => c.theme === theme)
      .map((c) => {
        const evidence =
          c.policies.length === 0 && c.evidence.length === 0
            ? `<span class="not-addressed">not addressed by this pack</span>`
            : c.policies
                .map((p) => {
                  const failures = p.failures.map((f) => `<li>${esc(f.where)}: ${esc(f.detail)}</li>`).join("");
                  const fix = p.failures.length > 0 ? `<li>Remediation: ${esc(p.remediation)}</li>` : "";
                  const na = p.notApplicable ? ` — ${esc(p.notApplicable)}` : "";
                  return `<div><code>${esc(p.id)}</code> <span class="${p.result}">${POLICY_LABEL[p.result]}</span> (${esc(p.severity)}, ${esc(p.enforcementLevel)}): ${esc(p.description)}${na}${failures || fix ? `<ul>${failures}${fix}</ul>` : ""}</div>`;
                })
                .join("") + c.evidence.map((e) => `<div class="${e.result}">Evidence: ${esc(runLine(e))}</div>`).join("");
        return `<tr id="${esc(c.id)}"><td>${esc(c.id)}</td><td>${esc(c.title)}</td><td class="r ${c.result}">${CONTROL_LABEL[c.result]}</td><td>${evidence}</td></tr>`;
      });
    sections.push(
      `<h2>${THEME_TITLE[theme]}</h2>\n<table><thead><tr><th>Control</th><th>Title</th><th>Result</th><th>Evidence (policies)</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`,
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ISO/IEC 27001:2022 SoA — ${esc(r.stack)}</title><style>${STYLE}</style></head>
<body>
<h1>ISO/IEC 27001:2022 Statement of Applicability — stack <code>${esc(r.stack)}</code></h1>
<p>Evidence: policy pack <code>${esc(pack.name)}</code> v${esc(pack.version)}, evaluated on the stack's resources as <code>pulumi preview</code> would register them. Policy config: ${esc(r.configSource)}.</p>
<p><strong>${esc(summaryLine(r))}</strong></p>
${sections.join("\n")}
</body></html>
`;
}
