/**
 * The contract every CLI command implements. Commands live one per file in cli/commands/
 * and are discovered by cli/main.ts, so adding a command never edits a shared registry.
 */
import type { ParseArgsConfig } from "node:util";

/** Exit codes shared by every command. */
export const EXIT = {
  ok: 0,
  /** The input (spec, plan, scenario) has problems the user must fix. */
  invalid: 1,
  /** Wrong command-line usage. */
  usage: 2,
  /** Something outside the user's input failed (I/O, Docker, a bug). */
  failure: 3,
} as const;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly cwd: string;
  /** Whether stderr is a terminal (progress bars only then). */
  readonly interactive: boolean;
}

export interface CliCommand {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line(s) and option descriptions, printed by --help. */
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  /** Whether the command takes positional arguments. */
  readonly positionals?: { readonly min: number; readonly max: number };
  run(args: { values: Record<string, unknown>; positionals: string[] }, io: CliIo): Promise<number> | number;
}

/** Raised inside a command for a usage error; main prints it with the command's usage. */
export class UsageError extends Error {}
