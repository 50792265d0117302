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
  { files: ["components/**/*.ts"], rules: { "no-restricted-imports": layering(noImages) } },
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
  {
    // TODO(issue 15): the NOC draws the datacenter with the program's SVG renderer and builds
    // its diagram model from the runtime config (item 2: the plan hands the NOC its diagram
    // model in its view); until then these two files may import components/render only.
    files: ["images/noc/src/main.ts", "images/noc/src/web.ts"],
    rules: {
      "no-restricted-imports": layering({ ...noComponents, regex: `^(\\.\\./)+components/(?!render(/|$))` }),
    },
  },
);
