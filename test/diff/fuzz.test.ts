/**
 * Free text from other tools (policy messages, preview diagnostics, resource names) must not
 * break the comment: whatever it holds — backticks, pipes, HTML, a fake marker, a closing
 * </details> — the comment keeps its marker as the first line, its sections balanced, no raw
 * HTML from the input outside code spans, and its size limit. 2,000 generated inputs, bounded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { code, commentMarker, renderComment } from "../../components/diff/comment";
import { parsePolicyViolations } from "../../components/diff/policy";
import { groupPreview } from "../../components/diff/preview";

const NAMES = { datacenter: "fra1", services: ["www"], hosts: ["h1"], networks: ["public"] };
const nasty = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.constantFrom(
    "</details>",
    "<details open>",
    "<!-- serverpark-preview stack=other -->",
    "| a | b |",
    "```",
    "`x`",
    "<script>alert(1)</script>",
    "\n\n# Heading\n",
    "> [!CAUTION]",
  ),
);

/** The line with its code spans removed, as GFM reads them: a run of n backticks up to the next run of exactly n. */
function withoutCodeSpans(line: string): string {
  let out = "";
  let i = 0;
  while (i < line.length) {
    if (line[i] !== "`") {
      out += line[i++];
      continue;
    }
    let j = i;
    while (line[j] === "`") j++;
    let close = -1;
    for (let k = j; k < line.length;) {
      if (line[k] !== "`") {
        k++;
        continue;
      }
      let m = k;
      while (line[m] === "`") m++;
      if (m - k === j - i) {
        close = m;
        break;
      }
      k = m;
    }
    if (close < 0) {
      out += line.slice(i, j);
      i = j;
    } else i = close;
  }
  return out;
}

describe("comment robustness", () => {
  it("fences code spans longer than any backtick run inside", () => {
    expect(code("plain")).toBe("`plain`");
    expect(code("a`b")).toBe("`` a`b ``");
    expect(code("a``b")).toBe("``` a``b ```");
    expect(code("x|y\nz")).toBe("`x\\|y z`");
  });

  it("survives hostile free text", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(nasty, nasty, nasty), { maxLength: 6 }), fc.integer({ min: 2000, max: 8000 }), (items, maxChars) => {
        const violations = parsePolicyViolations(
          JSON.stringify(items.map(([policy, message, resource]) => ({ policy: policy || "p", message, resource, enforcementLevel: "mandatory" }))),
        );
        const preview = groupPreview(
          {
            steps: items.map(([a, b], i) => ({
              op: i % 2 ? "update" : "delete",
              urn: `urn:pulumi:s::serverpark::docker:index/volume:Volume::fra1-svc-www-0-${a}`,
              diffReasons: [b],
            })),
            diagnostics: items.map(([, , c]) => ({ severity: "error", message: c })),
          },
          NAMES,
        );
        const md = renderComment({ stack: "local", violations, preview, maxChars });
        expect(md.length).toBeLessThanOrEqual(maxChars);
        expect(md.split("\n")[0]).toBe(commentMarker("local"));
        // Code spans show their text verbatim (GitHub does not read HTML inside them).
        const outside = md.split("\n").map(withoutCodeSpans).join("\n");
        expect(outside.split("<details").length).toBe(outside.split("</details>").length);
        expect(outside).not.toContain("<script>");
        expect(md.split("\n").filter((l) => l.startsWith("<!--"))).toHaveLength(1);
      }),
      { numRuns: 2000, seed: 9 },
    );
  });
});
