/**
 * The layering of ARCHITECTURE.md, as eslint.config.mjs enforces it: components/ and images/
 * meet only in contracts/, and contracts/ imports nothing but zod and node built-ins. Each
 * case lints one import as if it were written in a real file of that folder.
 */
import { join } from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const eslint = new ESLint({ cwd: ROOT });

async function restricted(filePath: string, specifier: string): Promise<boolean> {
  const [result] = await eslint.lintText(`import * as x from "${specifier}";\nexport const y = x;\n`, { filePath: join(ROOT, filePath) });
  const fatal = result!.messages.filter((m) => m.fatal);
  expect(fatal).toEqual([]);
  return result!.messages.some((m) => m.ruleId === "no-restricted-imports");
}

describe("import layering", () => {
  it.each([
    ["images/web/src/app.ts", "../../../components/plan"],
    ["images/dockerfiles.ts", "../components/model/runtimeConfig"],
    ["images/noc/src/main.ts", "../../../components/plan"],
    // The NOC takes its diagram model from its view and draws it with its own renderer.
    ["images/noc/src/web.ts", "../../../components/model/nocView"],
    ["components/roles/file.ts", "../../images/runtime/auth"],
    // Roles share code through images/runtime, never through each other.
    ["images/file/src/app.ts", "../../mail/src/app"],
    ["components/DatacenterService.ts", "../images/dockerfiles"],
    ["components/spec/schema.ts", "../targets/hetzner/settings"],
    ["components/model/runtimeConfig.ts", "../targets/docker/DockerTarget"],
    ["contracts/paths.ts", "@pulumi/pulumi"],
    ["contracts/paths.ts", "../components/plan"],
    ["contracts/settings/db.ts", "../../images/db/src/app"],
    ["policies/rules/power.ts", "../../components/compliance/evaluate"],
  ])(
    "%s may not import %s",
    async (file, specifier) => {
      expect(await restricted(file, specifier)).toBe(true);
    },
    120_000, // the first lint loads the whole config and its plugins: over 30 s on a loaded 2-core machine
  );

  it.each([
    ["images/web/src/app.ts", "../../../contracts/paths"],
    ["components/roles/file.ts", "../../contracts/credentials/scrypt"],
    ["components/targets/docker/DockerTarget.ts", "./images"],
    ["components/targets/hetzner/settings.ts", "../../spec/hetzner"],
    ["images/file/src/app.ts", "../../runtime/auth"],
    ["images/file/src/ftp/server.ts", "../../../runtime/auth"],
    ["contracts/roles.ts", "./paths"],
    ["contracts/settings/db.ts", "../paths"],
    ["contracts/settings/dns.ts", "node:net"],
    ["contracts/paths.ts", "zod"],
    ["policies/rules/power.ts", "../../components/power"],
  ])(
    "%s may import %s",
    async (file, specifier) => {
      expect(await restricted(file, specifier)).toBe(false);
    },
    120_000,
  );
});
