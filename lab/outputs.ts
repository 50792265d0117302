/**
 * Provider-computed values for `serverpark lab`: real generated passwords, random bytes,
 * keys and certificates, kept between runs as the Pulumi engine keeps them in its state.
 * A value is generated once per resource and reused while the resource's inputs stay the
 * same (the provider would not replace it); when the inputs change it is generated anew,
 * as a replacement would. Without this, every `lab up` would mint new passwords and
 * certificates and so replace every container.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import type { OutputSource } from "./record";
import { mintTls } from "./tls";

/** One resource's generated values and the inputs they were generated for. */
export interface SavedOutputs {
  readonly inputs: string;
  readonly values: Record<string, unknown>;
}

export type OutputStoreState = Record<string, SavedOutputs>;

/** JSON with sorted keys, so the same inputs always hash the same. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

const hashOf = (inputs: Record<string, unknown>) => createHash("sha256").update(stableJson(inputs)).digest("hex");

/** The random provider's default special characters. */
const SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** A password as random.RandomPassword makes one from its inputs (length and character classes). */
export function generatePassword(inputs: Record<string, any>): string {
  const length = Number(inputs.length ?? 16);
  const classes = [
    inputs.upper === false ? "" : "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    inputs.lower === false ? "" : "abcdefghijklmnopqrstuvwxyz",
    inputs.numeric === false ? "" : "0123456789",
    inputs.special === false ? "" : String(inputs.overrideSpecial ?? SPECIAL),
  ];
  const alphabet = classes.join("");
  if (!Number.isInteger(length) || length < 1 || alphabet.length === 0) {
    throw new Error(`random.RandomPassword: cannot make a password of length ${inputs.length} from no characters`);
  }
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join("");
}

async function generate(type: string, inputs: Record<string, any>): Promise<Record<string, unknown> | undefined> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { result: generatePassword(inputs) };
    case "random:index/randomBytes:RandomBytes": {
      const bytes = randomBytes(Number(inputs.length ?? 16));
      return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    default:
      return mintTls(type, inputs);
  }
}

export class OutputStore {
  private readonly next: OutputStoreState = {};

  constructor(private readonly saved: OutputStoreState = {}) {}

  /** For runUnderMocks: saved values when the inputs match, new ones otherwise. */
  readonly source: OutputSource = async (type, name, inputs) => {
    const key = `${type}::${name}`;
    const inputsHash = hashOf(inputs);
    const old = this.saved[key];
    if (old && old.inputs === inputsHash) {
      this.next[key] = old;
      return old.values;
    }
    const values = await generate(type, inputs);
    if (values) this.next[key] = { inputs: inputsHash, values };
    return values;
  };

  /** What to keep: the values of the resources the last run registered, no others. */
  state(): OutputStoreState {
    return Object.fromEntries(Object.entries(this.next).sort(([a], [b]) => a.localeCompare(b)));
  }
}
