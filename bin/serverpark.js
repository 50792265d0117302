#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so there is no build step to forget.
require("tsx/cjs");
const { main, processIo } = require("../cli/main.ts");

main(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`serverpark: ${e.message}\n`);
    process.exitCode = 3;
  },
);
