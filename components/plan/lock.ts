/**
 * The plan lock on disk: `stacks/Pulumi.<stack>.lock.json`, committed next to the stack
 * config. It records where replicas, addresses and published ports went, so the next plan
 * keeps them (see `PlanLock`). The planner reads and writes `placement` and `addresses`;
 * `ports` are the Docker target's host ports (components/targets/docker/hostPorts.ts),
 * stored in the same file so that a stack keeps them too. Written with sorted keys so diffs
 * stay minimal.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import type { PlanLock } from "./types";

/** The lock file: the plan's part and the Docker target's host ports (`replica:port` → host port). */
export interface StackLock extends PlanLock {
  readonly ports: Readonly<Record<string, number>>;
}

const LockSchema = z.strictObject({
  version: z.literal(1),
  placement: z.record(z.string(), z.string()),
  addresses: z.record(z.string(), z.record(z.string(), z.string())),
  ports: z.record(z.string(), z.number().int()),
});

/** `stacks/Pulumi.local.yaml` → `stacks/Pulumi.local.lock.json` */
export function lockPathFor(stackFile: string): string {
  return stackFile.replace(/\.ya?ml$/, "") + ".lock.json";
}

export function parseLock(text: string, where: string): StackLock {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not valid JSON (${(e as Error).message}); delete it to plan from scratch (replicas may move)`);
  }
  const parsed = LockSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new Error(`${where}: ${first.path.join(".") || "(root)"}: ${first.message}; delete the file to plan from scratch (replicas may move)`);
  }
  return parsed.data;
}

export function readLock(path: string): StackLock | undefined {
  return existsSync(path) ? parseLock(readFileSync(path, "utf8"), path) : undefined;
}

export function renderLock(lock: StackLock): string {
  return JSON.stringify(sortKeys(lock), null, 2) + "\n";
}

/** Writes the lock when its content changed; returns whether it wrote. */
export function writeLock(path: string, lock: StackLock): boolean {
  const text = renderLock(lock);
  if (existsSync(path) && readFileSync(path, "utf8") === text) return false;
  writeFileSync(path, text);
  return true;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
