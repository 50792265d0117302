/**
 * Reading what the Hetzner deployment sends under mocks: a `CopyToRemote`'s source arrives as a
 * `StringAsset` (its text a promise), inside a secret when the content is one.
 */
import { readFileSync } from "node:fs";
import { isSecretValue, type MockRun, type RecordedResource } from "../support/pulumiMocks";

/** The text of a copy's source asset. */
export async function assetText(source: unknown): Promise<string> {
  const asset = (isSecretValue(source) ? source.value : source) as { text?: Promise<string> | string; path?: Promise<string> | string };
  // A view file (components/model/viewFiles.ts) is copied from its path.
  const path = await asset.path;
  if (typeof path === "string") return readFileSync(path, "utf8");
  const text = await asset.text;
  if (typeof text !== "string") throw new Error(`not a text asset: ${JSON.stringify(source)}`);
  return text;
}

/** A resource's inputs with secrets unwrapped and assets replaced by their text: what two runs can be compared by. */
export async function resolvedInputs(value: unknown): Promise<unknown> {
  if (isSecretValue(value)) return resolvedInputs(value.value);
  if (value && typeof value === "object" && (value as { __pulumiAsset?: boolean }).__pulumiAsset) return { asset: await assetText(value) };
  if (Array.isArray(value)) return Promise.all(value.map(resolvedInputs));
  if (value && typeof value === "object")
    return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolvedInputs(v)] as const)));
  return value;
}

export interface Copied {
  readonly name: string;
  readonly remotePath: string;
  readonly content: string;
  /** The source is a secret on the wire. */
  readonly secret: boolean;
}

/** Every copy of a run, its text resolved. */
export async function copiesOf(run: MockRun<unknown>): Promise<Copied[]> {
  return Promise.all(
    run.byType("command:remote:CopyToRemote").map(async (r: RecordedResource) => ({
      name: r.name,
      remotePath: r.inputs.remotePath as string,
      content: await assetText(r.rawInputs.source),
      secret: isSecretValue(r.rawInputs.source),
    })),
  );
}

/** The unit's ExecStart as argv: one flag (and value) per continued line, systemd quoting undone. */
export function execStart(unit: string): string[] {
  const text = /^ExecStart=([\s\S]*?)\nExecStop=/m.exec(unit)![1]!;
  const argv: string[] = [];
  for (const m of text.replace(/ \\\n\s*/g, " ").matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    argv.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!.replace(/%%/g, "%").replace(/\$\$/g, "$"));
  }
  return argv;
}
