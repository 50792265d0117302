/**
 * Runs the docker CLI for the offline applier and the lab commands: argv arrays through
 * child_process (never a shell string), errors that name the command and carry docker's
 * own message, and the "is there an engine?" check.
 */
import { execFileSync, spawn } from "node:child_process";

export interface DockerResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

export interface RunOptions {
  /** Bytes for docker's stdin (e.g. a tar for `docker cp -`). */
  readonly input?: Buffer;
  /** Extra environment, e.g. DOCKER_BUILDKIT=0. */
  readonly env?: Record<string, string>;
  /** Resolve with a non-zero exit instead of rejecting. @default false */
  readonly allowFailure?: boolean;
  /** @default 120000 */
  readonly timeoutMs?: number;
  /**
   * Run docker in a process group of its own, so a Ctrl-C meant for the command that runs it
   * does not cut the docker call short (`serverpark chaos` restores power while exiting).
   * @default false
   */
  readonly detached?: boolean;
}

export class DockerCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: DockerResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-15).join("\n");
    super(`docker ${args.slice(0, 6).join(" ")}${args.length > 6 ? " …" : ""} failed (exit ${result.exitCode}): ${detail}`);
    this.name = "DockerCommandError";
  }
}

export function docker(args: readonly string[], options: RunOptions = {}): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, {
      env: { ...process.env, ...options.env },
      stdio: [options.input ? "pipe" : "ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 120_000,
      detached: options.detached ?? false,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr!.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error) => reject(new Error(`cannot run docker: ${error.message}`)));
    child.on("close", (code, signal) => {
      const result = {
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + (signal ? `\n(killed by ${signal})` : ""),
        exitCode: code ?? 128,
      };
      if (result.exitCode !== 0 && !options.allowFailure) reject(new DockerCommandError(args, result));
      else resolve(result);
    });
    if (options.input) child.stdin?.end(options.input);
  });
}

/** Non-empty lines of a command's stdout (ids from `docker ps -q`, names...). */
export async function dockerLines(args: readonly string[]): Promise<string[]> {
  const { stdout } = await docker(args);
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Why the engine is unusable, or undefined when `docker info` works. Synchronous: test files decide at collection time. */
export function dockerUnavailableReason(): string | undefined {
  try {
    execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe", timeout: 15_000 });
    return undefined;
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    return (e.stderr?.toString().trim() || e.message).split("\n")[0];
  }
}
