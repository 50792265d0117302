/**
 * The runtime config a replica is started with (`/etc/serverpark/config.json`, contracts/
 * runtimeConfig.ts): the file the role reads at start-up, as the Docker target uploads it.
 * Policies that judge what a role actually runs with (limits, retention) read it here rather
 * than the stack's declaration. On Hetzner the file travels in the server's cloud-init or over
 * SSH after boot, which these readers do not parse: such resources are not applicable.
 */
import { RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import { UNKNOWN, unproxied } from "./settings";

export interface RuntimeConfigView {
  readonly role?: string;
  readonly service?: string;
  readonly replica?: string;
  readonly host?: string;
  readonly rack?: string;
  readonly settings: Record<string, unknown>;
  readonly backup?: { readonly schedule?: string; readonly retentionDays?: number; readonly targetHost?: string };
}

/** The parsed config.json a Docker container is given, or undefined (none, unknown during preview, or not JSON). */
export function runtimeConfigOf(props: Record<string, any>): RuntimeConfigView | undefined {
  const uploads = (unproxied(props).uploads ?? []) as { file?: string; content?: unknown }[];
  const upload = uploads.find((u) => u.file === RUNTIME_CONFIG_PATH);
  if (!upload || typeof upload.content !== "string" || upload.content === UNKNOWN) return undefined;
  try {
    const parsed = JSON.parse(upload.content) as Record<string, any>;
    return { ...parsed, settings: (parsed.settings ?? {}) as Record<string, unknown> } as RuntimeConfigView;
  } catch {
    return undefined;
  }
}
