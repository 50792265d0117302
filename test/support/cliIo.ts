/** A CliIo that captures what a command prints, for tests of cli/commands. */
import type { CliIo } from "../../cli/command";

export function captureIo(cwd = process.cwd()): CliIo & { stdout: string; stderr: string } {
  const captured = { stdout: "", stderr: "" };
  return Object.assign(captured, {
    out: (t: string) => void (captured.stdout += `${t}\n`),
    err: (t: string) => void (captured.stderr += `${t}\n`),
    cwd,
    interactive: false,
  });
}
