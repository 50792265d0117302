// Lint rules for the whole project: typescript-eslint's recommended set everywhere; on
// the Pulumi program (components/, stacks/, policies/) Pulumi's own rule against Outputs in
// template literals, which needs type information (they would print a warning string); and
// the layering of ARCHITECTURE.md: the program (components/) and the servers (images/) share
// only contracts/, and contracts/ imports nothing but zod and node built-ins.
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

/** A relative import that climbs to the project root and into `dir`, from any depth. */
const intoRoot = (dir) => `^(\\.\\./)+${dir}(/|$)`;
const layering = (...patterns) => ["error", { patterns }];
const noComponents = {
  regex: intoRoot("components"),
  message: "images/ must not import the Pulumi program: move the shared fact into contracts/ (ARCHITECTURE.md).",
};
const noImages = { regex: intoRoot("images"), message: "components/ must not import the servers: move the shared fact into contracts/ (ARCHITECTURE.md)." };

export default tseslint.config(
  { ignores: ["node_modules/", "**/dist/", "coverage/", "test-artifacts/", ".pulumi-state/", "**/*.js", "**/*.mjs", "**/*.cjs"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/no-unused-vars": ["error", { args: "none", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    files: ["components/**/*.ts", "stacks/**/*.ts", "policies/**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { "@pulumi": pulumi.default ?? pulumi },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
    },
  },
  {
    files: ["contracts/**/*.ts"],
    rules: {
      "no-restricted-imports": layering({
        // Only zod, node built-ins and other files of contracts/ (a sibling, or a parent folder's file from a subfolder).
        regex: "^(?!zod$|node:|\\./|\\.\\./[^.])",
        message: "contracts/ holds zod schemas, types and constants only: import zod, node: built-ins or contracts/ itself.",
      }),
    },
  },
  {
    files: ["contracts/*.ts"],
    rules: {
      "no-restricted-imports": layering({ regex: "^(?!zod$|node:|\\./)", message: "contracts/ imports only zod, node: built-ins and contracts/ itself." }),
    },
  },
  { files: ["images/**/*.ts"], rules: { "no-restricted-imports": layering(noComponents) } },
  // A role's server shares code with another role only through images/runtime/ (one rule per
  // depth below images/<role>/src/, since the climb to images/ is as deep as the file).
  ...[1, 2, 3].map((depth) => ({
    files: [`images/*/src/${"*/".repeat(depth - 1)}*.ts`],
    ignores: ["images/runtime/**"],
    rules: {
      "no-restricted-imports": layering(noComponents, {
        regex: `^${"\\.\\./".repeat(depth + 1)}(?!runtime/|\\.\\./)[^/]+/`,
        message: "a role's server must not import another role's: move the shared code into images/runtime/ (ARCHITECTURE.md).",
      }),
    },
  })),
  { files: ["components/**/*.ts"], rules: { "no-restricted-imports": layering(noImages) } },
  {
    // The spec, the plan and the views are target-agnostic: a target reads them, never the reverse.
    files: ["components/spec/**/*.ts", "components/plan/**/*.ts", "components/model/**/*.ts"],
    rules: {
      "no-restricted-imports": layering(noImages, {
        regex: "^(\\.\\./)+targets(/|$)",
        message: "the spec, plan and views must not depend on a target: the target imports them (ARCHITECTURE.md).",
      }),
    },
  },
  {
    // The pack's evaluator imports the pack; the pack must not import it back (no cycle).
    files: ["policies/**/*.ts"],
    rules: {
      "no-restricted-imports": layering({
        regex: intoRoot("components/compliance"),
        message: "components/compliance/ evaluates the pack; the pack must not import it (ARCHITECTURE.md).",
      }),
    },
  },
);
