/** Copies of the committed stack files with text edits, for CLI tests that need a broken or changed stack. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";

/** A copy of stacks/Pulumi.<stack>.yaml with every edit applied (each must change the text), in a temp dir. */
export function stackVariant(stack: "local" | "hetzner", edits: readonly (readonly [string | RegExp, string])[]): string {
  let text = readFileSync(join(process.cwd(), "stacks", `Pulumi.${stack}.yaml`), "utf8");
  for (const [from, to] of edits) {
    const next = text.replace(from, to);
    expect(next, `edit ${String(from)} applies`).not.toBe(text);
    text = next;
  }
  const path = join(mkdtempSync(join(tmpdir(), "sp-stack-")), `Pulumi.${stack}.yaml`);
  writeFileSync(path, text);
  return path;
}
