/**
 * ssh2's native ciphers (scripts/build-ssh-crypto.sh, run by `npm run setup`): built for the
 * project's Node, loaded by ssh2, and copied by images/build.ts next to every bundle that
 * carries ssh2 — and only those.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyNativeCrypto } from "../../images/build";

const require = createRequire(__filename);
const BINDING = join(__dirname, "..", "..", "node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node");
const built = existsSync(BINDING);
if (!built && process.env.CI !== "true") console.warn(`skipping ssh2 native crypto checks: ${BINDING} not built (run npm run setup)`);

describe.skipIf(!built && process.env.CI !== "true")("ssh2's native crypto", () => {
  it("is built by the setup and loaded by ssh2 under the project's Node", () => {
    expect(existsSync(BINDING), BINDING).toBe(true);
    expect((require("ssh2/lib/protocol/crypto.js") as { bindingAvailable: boolean }).bindingAvailable).toBe(true);
  });

  it("goes next to a bundle that requires it, at the path the bundle requires, and nowhere else", () => {
    const withSsh = mkdtempSync(join(tmpdir(), "sp-bundle-"));
    writeFileSync(join(withSsh, "main.mjs"), 'binding = __require("./crypto/build/Release/sshcrypto.node");\n');
    copyNativeCrypto(withSsh);
    expect(existsSync(join(withSsh, "crypto/build/Release/sshcrypto.node"))).toBe(true);
    const without = mkdtempSync(join(tmpdir(), "sp-bundle-"));
    writeFileSync(join(without, "main.mjs"), "console.log(1);\n");
    copyNativeCrypto(without);
    expect(existsSync(join(without, "crypto"))).toBe(false);
  });
});
