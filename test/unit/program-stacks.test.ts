/**
 * The program skips formatting the stack traces Pulumi records on each of its promises
 * (printed only with PULUMI_DEBUG_PROMISE_LEAKS), and nothing else: our own errors keep
 * their source-mapped stacks.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as debuggable from "@pulumi/pulumi/runtime/debuggable";
import { skipUnreadPromiseStacks, UNRECORDED_PROMISE_STACK } from "../../components/program";

/** Pulumi's own (internal, so untyped) wrapper that records a stack on each of its promises. */
const { debuggablePromise } = debuggable as unknown as { debuggablePromise: (p: Promise<unknown>, ctx: string) => Promise<unknown> };

/** The stack `debuggablePromise` records on the promise it is given. */
function recordedStack(): string {
  const p = Promise.resolve(1);
  void debuggablePromise(p, "test");
  return (p as unknown as { _debugStackTrace: string })._debugStackTrace;
}

/** The line of this file holding `marker`, 1-based. */
function lineOf(marker: string): number {
  return (
    readFileSync(__filename, "utf8")
      .split("\n")
      .findIndex((l) => l.includes(marker) && !l.includes("lineOf(")) + 1
  );
}

describe("skipUnreadPromiseStacks", () => {
  it("leaves every stack alone while PULUMI_DEBUG_PROMISE_LEAKS is set", () => {
    expect(skipUnreadPromiseStacks({ PULUMI_DEBUG_PROMISE_LEAKS: "1" })).toBe(false);
    const stack = recordedStack();
    expect(stack).toContain("debuggablePromise");
    expect(stack).not.toContain(UNRECORDED_PROMISE_STACK);
  });

  it("replaces the stack Pulumi records on its promises by a note", () => {
    expect(skipUnreadPromiseStacks({})).toBe(true);
    expect(recordedStack()).toBe(`Error\n    ${UNRECORDED_PROMISE_STACK}`);
  });

  it("keeps the source-mapped stack of any other error", () => {
    expect(skipUnreadPromiseStacks({})).toBe(true);
    const error = new Error("ours"); // marker: our-error
    const first = error.stack!.split("\n")[1]!;
    expect(error.stack!.split("\n")[0]).toBe("Error: ours");
    expect(first).toContain("program-stacks.test.ts");
    expect(first).toContain(`:${lineOf("marker: our-error")}:`);
  });
});
