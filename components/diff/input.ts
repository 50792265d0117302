/**
 * Reading a JSON document another tool printed (a preview, a policy report) against a zod
 * schema, with one message that says where, what is wrong and what was expected.
 */
import type { z } from "zod";

/** An input file that is not what the command expects; the CLI prints it and exits 1. */
export class InputError extends Error {}

export function parseJsonInput<S extends z.ZodType>(schema: S, text: string, where: string, expected: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${where} is not JSON (${(e as Error).message}); pass the output of ${expected}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new InputError(`${where}: ${first.path.join(".") || "(root)"}: ${first.message}; expected the output of ${expected}`);
  }
  return parsed.data;
}
