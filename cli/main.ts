/**
 * `serverpark` — the command line. Each command is a module in cli/commands/ exporting
 * `command`; `serverpark <command> --help` prints its usage. Errors are messages, never
 * stack traces (set SERVERPARK_DEBUG=1 to see one).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EXIT, UsageError, type CliCommand, type CliIo } from "./command";
import { SpecError } from "../components/spec/issues";
import { StackFileError } from "../components/spec/load";
import { StackProblems } from "./stack";

export function loadCommands(): CliCommand[] {
  const dir = join(__dirname, "commands");
  return readdirSync(dir)
    .filter((f) => /\.ts$/.test(f) && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
    .map((f) => (require(join(dir, f)) as { command?: CliCommand }).command)
    .filter((c): c is CliCommand => c !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

function overview(commands: CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "serverpark — declare, simulate and run a hosting datacenter as code",
    "",
    "Usage: serverpark <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "A <stack> is a stack name (local) or the path of its config file (stacks/Pulumi.local.yaml).",
    "Run `serverpark <command> --help` for a command's options.",
  ].join("\n");
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const commands = loadCommands();
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(overview(commands));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version") {
    io.out((require("../package.json") as { version: string }).version);
    return EXIT.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`serverpark: unknown command "${name}"\n\n${overview(commands)}`);
    return EXIT.usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(command.usage);
    return EXIT.ok;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    const n = parsed.positionals.length;
    const want = command.positionals ?? { min: 0, max: 0 };
    if (n < want.min) throw new UsageError(`missing argument${want.min - n > 1 ? "s" : ""}`);
    if (n > want.max) throw new UsageError(`unexpected argument "${parsed.positionals[want.max]}"`);
  } catch (e) {
    io.err(`serverpark ${name}: ${(e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, "")}\n\n${command.usage}`);
    return EXIT.usage;
  }
  try {
    return await command.run({ values: parsed.values as Record<string, unknown>, positionals: parsed.positionals }, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`serverpark ${name}: ${e.message}\n\n${command.usage}`);
      return EXIT.usage;
    }
    // A stack with problems is the user's input to fix (exit 1), whichever command loaded it.
    if (e instanceof SpecError || e instanceof StackFileError || e instanceof StackProblems) {
      io.err(e.message);
      return EXIT.invalid;
    }
    io.err(`serverpark ${name}: ${(e as Error).message}`);
    if (process.env.SERVERPARK_DEBUG) io.err(String((e as Error).stack));
    return EXIT.failure;
  }
}

/** The process's own streams; bin/serverpark.js runs `main(argv, processIo())`. */
export function processIo(): CliIo {
  return {
    out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
    cwd: process.cwd(),
    interactive: Boolean(process.stderr.isTTY),
  };
}
