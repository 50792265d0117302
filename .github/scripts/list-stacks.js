// Prints the stacks CI works on as a JSON array (for a job matrix): every
// stacks/Pulumi.<stack>.yaml, or with --auto-deploy only those named in
// .github/auto-deploy-stacks (one stack per line, `#` comments). The list of automatic
// deployments lives there, not in stack config: Pulumi rejects undeclared keys in the
// project's config namespace, and a reviewable file in .github says plainly what CI deploys.
"use strict";
const { existsSync, readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

function listStacks(root, { autoDeploy = false } = {}) {
  const stacks = readdirSync(join(root, "stacks"))
    .map((f) => /^Pulumi\.([A-Za-z0-9_.-]+)\.ya?ml$/.exec(f)?.[1])
    .filter((s) => s !== undefined)
    .sort();
  if (!autoDeploy) return stacks;
  const file = join(root, ".github", "auto-deploy-stacks");
  if (!existsSync(file)) return [];
  const wanted = readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
  const unknown = wanted.filter((s) => !stacks.includes(s));
  if (unknown.length) throw new Error(`.github/auto-deploy-stacks names stacks without a stacks/Pulumi.<stack>.yaml: ${unknown.join(", ")}`);
  return [...new Set(wanted)].sort();
}

module.exports = { listStacks };

if (require.main === module) {
  const root = join(__dirname, "..", "..");
  process.stdout.write(JSON.stringify(listStacks(root, { autoDeploy: process.argv.includes("--auto-deploy") })) + "\n");
}
