/**
 * The pull-request comment for one stack, in GitHub Markdown. Layout: a hidden marker (how
 * the workflow finds the comment to edit in place), a one-line summary, an "attention" list
 * (replicas that move, stateful resources replaced or deleted, redundancy drops, mandatory
 * policy violations), the datacenter changes, redundancy and headroom, then the resource
 * steps and policy details collapsed. It stays under GitHub's 65,536-character limit by
 * cutting the least important sections first and saying so; the same input always gives the
 * same text (no clock, sorted everything), so an updated comment only changes where the PR does.
 */
import { countLine, headroomRows, moveText, redundancyDrops, redundancyMark, tightHosts, verdictText } from "./format";
import type { PolicyViolation } from "./policy";
import type { GroupedPreview, ResourceStep } from "./preview";
import { redact } from "./secrets";
import type { DatacenterDiff } from "./types";

/** GitHub rejects comment bodies longer than this. */
export const GITHUB_COMMENT_LIMIT = 65_536;

export interface CommentInput {
  readonly stack: string;
  /** Datacenter name for the title when there is no diff to take it from. */
  readonly datacenter?: string;
  readonly diff?: DatacenterDiff;
  /** Where base and head came from, e.g. `origin/main` and `HEAD`. */
  readonly base?: string;
  readonly head?: string;
  readonly preview?: GroupedPreview;
  readonly violations?: readonly PolicyViolation[];
  /** Literal values that must never appear (scrubbed as `[secret]`). */
  readonly secrets?: Iterable<string>;
  /** @default GITHUB_COMMENT_LIMIT */
  readonly maxChars?: number;
  /** Problems that limit what the comment can say (shown first, under "Needs attention"). */
  readonly warnings?: readonly string[];
  /** How to get the full picture locally, shown when something is cut. */
  readonly fullCommand?: string;
}

/** The hidden marker that identifies the comment of one stack. */
export const commentMarker = (stack: string) => `<!-- serverpark-preview stack=${stack.replace(/[^A-Za-z0-9_.-]/g, "_")} -->`;

/** Inline code that survives backticks and pipes inside the value. */
export function code(s: string): string {
  const text = s.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
  // A code span ends at a backtick run as long as its fence: use a fence longer than any run inside.
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  if (longest === 0) return `\`${text}\``;
  const fence = "`".repeat(longest + 1);
  return `${fence} ${text} ${fence}`;
}

/** Free text in a table cell or list item: no HTML, no table breaks, bounded. */
export function plain(s: string, max = 300): string {
  const one = s
    .replace(/\r?\n+/g, " ")
    .replace(/[<>]/g, (c) => (c === "<" ? "&lt;" : "&gt;"))
    .replace(/\|/g, "\\|");
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

const row = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
const tableLines = (header: readonly string[], rows: readonly (readonly string[])[]) => [row(header), row(header.map(() => "---")), ...rows.map(row)];

/** A section of the comment: `lines` may be cut, `open`/`close` always come as a pair. */
interface Block {
  readonly title: string;
  readonly open: readonly string[];
  readonly lines: readonly string[];
  readonly close: readonly string[];
}

function stepLine(s: ResourceStep): string {
  const what = s.kind === "other" ? s.ops.join("/") : s.kind;
  const props =
    s.kind === "replace" && s.replaceBecause.length
      ? ` — replaced because of ${s.replaceBecause.map(code).join(", ")}`
      : s.properties.length
        ? ` — ${s.properties.slice(0, 12).map(code).join(", ")}${s.properties.length > 12 ? ` and ${s.properties.length - 12} more` : ""}`
        : "";
  return `- ${s.kind === "replace" || s.kind === "delete" ? `**${what}**` : what} ${code(s.type)} ${code(s.name)}${s.protect ? " (protected)" : ""}${props}`;
}

function attention(input: CommentInput): string[] {
  const out: string[] = [];
  const { diff, preview, violations } = input;
  for (const w of input.warnings ?? []) out.push(`- **Warning:** ${plain(w, 1200)}`);
  for (const m of diff?.moves ?? []) out.push(`- **Replica moves:** ${plain(moveText(m))}`);
  for (const s of preview?.dataAtRisk ?? [])
    out.push(
      `- **Data at risk:** ${s.kind === "replace" ? "replaces" : "deletes"} stateful ${code(s.type)} ${code(s.name)}${s.protect ? " (protected: the operation will fail until unprotected)" : ""}`,
    );
  for (const d of diff ? redundancyDrops(diff) : []) out.push(`- **Redundancy drops:** ${plain(d)}`);
  if (diff && diff.renumbered.length)
    out.push(`- **Addresses renumbered:** ${diff.renumbered.length} existing address${diff.renumbered.length === 1 ? "" : "es"} change (see networks below)`);
  for (const v of (violations ?? []).filter((x) => x.enforcement === "mandatory")) {
    out.push(
      `- **Mandatory policy violation:** ${code(v.policy)} (${v.controls.join(", ") || "no control"}) on ${code(v.resource || "the stack")}: ${plain(v.message, 200)}`,
    );
  }
  for (const d of (preview?.diagnostics ?? []).filter((x) => x.severity === "error")) out.push(`- **Preview error:** ${plain(d.message, 300)}`);
  if (diff) for (const h of tightHosts(diff.headroom)) out.push(`- **Tight capacity:** host ${code(h)} has less than 10% of a resource left after the change`);
  return out;
}

function summaryLine(input: CommentInput): string {
  const parts: string[] = [];
  parts.push(`**Datacenter:** ${!input.diff ? "no diff" : input.diff.empty ? "no changes" : countLine(input.diff)}`);
  if (input.preview) {
    const c = input.preview.counts;
    const total = c.create + c.update + c.replace + c.delete + c.other;
    parts.push(
      `**Resources:** ${total === 0 ? "no changes" : `${c.create} to create, ${c.update} to update, ${c.replace} to replace, ${c.delete} to delete${c.other ? `, ${c.other} other` : ""}`}`,
    );
  } else parts.push("**Resources:** no preview given");
  if (input.violations) {
    const mandatory = input.violations.filter((v) => v.enforcement === "mandatory").length;
    parts.push(
      `**Policy:** ${input.violations.length === 0 ? "no violations" : `${input.violations.length} violation${input.violations.length === 1 ? "" : "s"} (${mandatory} mandatory)`}`,
    );
  } else parts.push("**Policy:** not checked");
  return parts.join(" · ");
}

function datacenterBlocks(diff: DatacenterDiff): Block[] {
  const blocks: Block[] = [];
  const main = diff.changes.filter((c) => c.part !== "dns");
  const changeLines = diff.empty
    ? ["No datacenter changes: the datacenter stays exactly as it is."]
    : main.flatMap((c) => [`- ${code(c.summary)}`, ...c.details.map((d) => `  - ${/^[-+~] /.test(d) ? code(d) : plain(d)}`)]);
  blocks.push({ title: "datacenter changes", open: ["#### Datacenter changes", ""], lines: changeLines, close: [""] });
  const red = diff.redundancy;
  const redLines = red.available
    ? red.rows.length
      ? tableLines(
          ["Service", "Before", "After", ""],
          red.rows.map((r) => [code(r.service), plain(verdictText(r.before)), plain(verdictText(r.after)), r.worse ? "**WORSE**" : redundancyMark(r)]),
        )
      : ["No services on either side."]
    : [`_Not available: ${plain(red.reason ?? "no power model")}._`];
  blocks.push({
    title: "redundancy",
    open: [`#### Redundancy before → after (N-1)`, "", ...(red.available ? [`<sub>${plain(red.source)}</sub>`, ""] : [])],
    lines: redLines,
    close: [""],
  });
  const changedHosts = diff.headroom.filter((h) => h.changed);
  if (diff.headroom.length) {
    const shown = changedHosts.length ? changedHosts : [];
    blocks.push({
      title: "capacity headroom",
      open: ["#### Capacity headroom (free / limit)", ""],
      lines: shown.length
        ? tableLines(
            ["Host", "Free CPUs", "Free memory GB", "Free disk GB", "Replicas"],
            headroomRows(shown).map((r) => r.map((cell) => plain(cell))),
          )
        : ["No host's allocation changes."],
      close: [""],
    });
  }
  const dns = diff.changes.filter((c) => c.part === "dns");
  if (dns.length) {
    const n = dns.reduce((a, c) => a + c.details.length, 0);
    blocks.push({
      title: "DNS records",
      open: ["<details><summary>DNS records (" + n + " changed)</summary>", ""],
      lines: dns.flatMap((c) => [`**${plain(c.summary)}**`, "", "```diff", ...c.details, "```", ""]),
      close: ["</details>", ""],
    });
  }
  return blocks;
}

function previewBlock(preview: GroupedPreview): Block {
  const total = preview.groups.reduce((a, g) => a + g.steps.length, 0);
  const lines = total === 0 ? ["No resource changes."] : preview.groups.flatMap((g) => [`**${plain(g.part)}**`, "", ...g.steps.map(stepLine), ""]);
  const diags = preview.diagnostics.filter((d) => d.severity === "warning").map((d) => `- warning: ${plain(d.message, 300)}`);
  return {
    title: "resource changes",
    open: [`<details><summary>Resource changes by datacenter part (${total})</summary>`, ""],
    lines: [...lines, ...(diags.length ? ["**Preview warnings**", "", ...diags, ""] : [])],
    close: ["</details>", ""],
  };
}

function policyBlock(violations: readonly PolicyViolation[]): Block {
  return {
    title: "policy violations",
    open: [`<details${violations.some((v) => v.enforcement === "mandatory") ? " open" : ""}><summary>Policy violations (${violations.length})</summary>`, ""],
    lines: violations.length
      ? tableLines(
          ["Enforcement", "Policy", "ISO 27001 controls", "Resource", "Message"],
          violations.map((v) => [
            v.enforcement,
            code(v.policy),
            v.controls.join(", ") || "—",
            v.resource ? code(v.resource.split("::").pop()!) : "—",
            plain(v.message, 240),
          ]),
        )
      : ["No policy violations."],
    close: ["</details>", ""],
  };
}

/** Renders the comment; never longer than `maxChars`, and says what it had to leave out. */
export function renderComment(input: CommentInput): string {
  const limit = input.maxChars ?? GITHUB_COMMENT_LIMIT;
  const secrets = [...(input.secrets ?? [])];
  const clean = (l: string) => (secrets.length ? redact(l, secrets) : l);
  const dc = input.diff?.datacenter.after ?? input.diff?.datacenter.before ?? input.datacenter;
  const head: string[] = [
    commentMarker(input.stack),
    `### Serverpark preview · stack ${code(input.stack)}${dc ? ` · datacenter ${code(dc)}` : ""}`,
    "",
    ...(input.base && input.head ? [`<sub>${plain(input.base)} → ${plain(input.head)}</sub>`, ""] : []),
    summaryLine(input),
    "",
  ];
  const att = attention(input);
  const blocks: Block[] = [];
  if (att.length) blocks.push({ title: "attention", open: ["> [!CAUTION]", "> **Needs attention**", ">"], lines: att.map((l) => `> ${l}`), close: [""] });
  if (input.diff) blocks.push(...datacenterBlocks(input.diff));
  if (input.violations) blocks.push(policyBlock(input.violations));
  if (input.preview) blocks.push(previewBlock(input.preview));

  const how = input.fullCommand ? ` Run ${code(input.fullCommand)} for everything.` : "";
  // Room kept for the closing lines and the truncation notice at the end.
  const reserve = 400 + how.length;
  const out: string[] = head.map(clean);
  let size = out.reduce((a, l) => a + l.length + 1, 0);
  const omitted: string[] = [];
  let cut = false;
  for (const block of blocks) {
    const open = block.open.map(clean);
    const close = block.close.map(clean);
    const fixed = [...open, ...close].reduce((a, l) => a + l.length + 1, 0);
    if (cut || size + fixed + reserve > limit) {
      omitted.push(block.title);
      cut = true;
      continue;
    }
    out.push(...open);
    size += fixed;
    let shown = 0;
    let inFence = false;
    for (const raw of block.lines) {
      const line = clean(raw);
      if (size + line.length + 1 + reserve > limit) break;
      out.push(line);
      size += line.length + 1;
      shown++;
      if (line.startsWith("```")) inFence = !inFence;
    }
    if (shown < block.lines.length) {
      // A cut inside a fenced block would turn everything after it into code.
      if (inFence) out.push("```");
      const note = `_… ${block.lines.length - shown} more line${block.lines.length - shown === 1 ? "" : "s"} of ${block.title} not shown (comment size limit)._`;
      out.push(block.open[0]?.startsWith(">") ? `> ${note}` : note);
      size += note.length + 3;
      cut = true;
    }
    out.push(...close);
  }
  if (cut) {
    out.push(
      `> [!WARNING]`,
      `> This comment was truncated to stay under GitHub's ${GITHUB_COMMENT_LIMIT.toLocaleString("en-US")}-character limit${omitted.length ? `; left out: ${omitted.join(", ")}` : ""}.${how}`,
    );
  }
  const text =
    out
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trimEnd() + "\n";
  // The reserve makes this unreachable; it is the last line of defence for the limit.
  return text.length <= limit ? text : text.slice(0, limit - 2) + "…\n";
}
