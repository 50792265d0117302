// Lint rules for the whole project: typescript-eslint's recommended set, plus the rule
// Pulumi recommends against Outputs in template literals (they print as a warning string).
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "**/dist/", "coverage/", "test-artifacts/", ".pulumi-state/", "**/*.js", "**/*.mjs", "**/*.cjs"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/no-unused-vars": ["error", { args: "none", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-restricted-syntax": [
        "error",
        {
          selector: "TemplateLiteral > MemberExpression[property.name=/^(urn|id|name|certPem|privateKeyPem|imageName)$/][object.type='MemberExpression']",
          message: "Do not interpolate Pulumi Outputs in template literals: use pulumi.interpolate or apply.",
        },
      ],
    },
  },
);
