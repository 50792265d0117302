/**
 * A replica's runtime config as its server reads it (images/runtime/replica.ts): the config
 * file with its role's view merged in from the view file it names, whose SHA-256 must match.
 * For tests that look at what a target hands a container, by file path.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ROLE_VIEW_PATH, RUNTIME_CONFIG_PATH } from "../../contracts/paths";

/** A Docker upload's bytes: its content, or the file its `source` names (checked against `sourceHash`). */
export function uploadText(u: { content?: unknown; source?: unknown; sourceHash?: unknown }): string {
  if (u.source === undefined || u.source === null) return String(u.content);
  const text = readFileSync(String(u.source), "utf8");
  const sha256 = createHash("sha256").update(text).digest("hex");
  if (u.sourceHash !== sha256) throw new Error(`upload source ${String(u.source)}: SHA-256 ${sha256}, sourceHash ${String(u.sourceHash)}`);
  return text;
}

/** `files`: container path → text. The config with its view's fields (routes, noc, zones) merged in. */
export function configWithView(files: ReadonlyMap<string, string>): any {
  const config = JSON.parse(files.get(RUNTIME_CONFIG_PATH)!);
  if (!config.view) return config;
  const text = files.get(ROLE_VIEW_PATH);
  if (text === undefined) throw new Error(`the config names a view, but no ${ROLE_VIEW_PATH} was handed over`);
  const sha256 = createHash("sha256").update(text).digest("hex");
  if (sha256 !== config.view.sha256) throw new Error(`${ROLE_VIEW_PATH}: SHA-256 ${sha256}, the config names ${config.view.sha256}`);
  return { ...config, ...JSON.parse(text) };
}

/** A Docker container's uploads as path → text. */
export function uploadsOf(uploads: readonly any[] | undefined): Map<string, string> {
  return new Map((uploads ?? []).map((u) => [String(u.file), uploadText(u)]));
}
