/**
 * Reading a `--scenario` argument, shared by `serverpark simulate` and `serverpark chaos` so
 * both accept exactly the same files and inline events (components/power/README.md).
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseCompactScenario, ScenarioError } from "../components/power";

/** Reads a scenario file (YAML or JSON) or parses the inline form. */
export function readScenario(arg: string, cwd: string): Record<string, unknown> {
  const path = resolve(cwd, arg);
  const looksLikeFile = /\.(ya?ml|json)$/i.test(arg);
  if (looksLikeFile || (existsSync(path) && !arg.includes("@"))) {
    if (!existsSync(path)) throw new ScenarioError([{ path: [], message: `scenario file not found: ${arg}` }]);
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(path, "utf8"));
    } catch (e) {
      throw new ScenarioError([{ path: [], message: `${arg} is not valid YAML/JSON: ${(e as Error).message.split("\n")[0]}` }]);
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw))
      throw new ScenarioError([{ path: [], message: `${arg} must hold a mapping with an "events:" list` }]);
    return raw as Record<string, unknown>;
  }
  return parseCompactScenario(arg) as Record<string, unknown>;
}
