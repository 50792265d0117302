/**
 * The server-type catalogue (catalog.ts) checked against what Hetzner offers today, where its
 * API is reachable: `GET /v1/server_types` with the project's token (`HCLOUD_TOKEN`; the API
 * base from `HCLOUD_ENDPOINT`, the variable Hetzner's own CLI reads, default
 * https://api.hetzner.cloud/v1). Planning never waits for it: without a token, or when the API
 * does not answer within the timeout, the check is skipped with a notice saying so. A
 * difference in a type the stack uses (gone, deprecated, not offered in its location, other
 * cores, memory, disk or price) is a problem of the stack; one in a type it does not use is a
 * notice that the catalogue needs updating.
 */
import type { SpecIssue } from "../../spec/issues";
import { SERVER_TYPES, type ServerType } from "./catalog";
import type { HetznerResolution } from "./settings";

export const HCLOUD_API = "https://api.hetzner.cloud/v1";
/** How long `serverpark validate` waits for Hetzner's API per request. */
export const PROVIDER_TIMEOUT_MS = 5000;

/** The part of the API's server type this check reads. */
export interface ApiServerType {
  readonly name: string;
  readonly cores: number;
  /** GB, a number (4.0). */
  readonly memory: number;
  readonly disk: number;
  readonly cpu_type: "shared" | "dedicated";
  readonly deprecated?: boolean | null;
  readonly deprecation?: { readonly unavailable_after?: string } | null;
  readonly prices: readonly { readonly location: string; readonly price_monthly: { readonly net: string; readonly gross: string } }[];
}

export type ProviderCatalogResult =
  | { readonly status: "skipped"; readonly notice: string }
  | { readonly status: "checked"; readonly source: string; readonly issues: SpecIssue[]; readonly notices: string[] };

/** Every server type the API lists, page by page. Throws on a network error, a timeout or a non-2xx answer. */
export async function fetchServerTypes(options: { token: string; baseUrl: string; timeoutMs: number }): Promise<ApiServerType[]> {
  const types: ApiServerType[] = [];
  for (let page: number | null = 1; page !== null;) {
    const res = await fetch(`${options.baseUrl.replace(/\/$/, "")}/server_types?per_page=50&page=${page}`, {
      headers: { authorization: `Bearer ${options.token}`, accept: "application/json" },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    const body = (await res.json()) as { server_types: ApiServerType[]; meta?: { pagination?: { next_page?: number | null } } };
    types.push(...body.server_types);
    page = body.meta?.pagination?.next_page ?? null;
  }
  return types;
}

/** What a catalogue type and the API's disagree about, one sentence each (empty: they agree). */
export function typeDifferences(ours: ServerType, api: ApiServerType | undefined, locations: readonly string[]): string[] {
  if (!api) return [`${ours.name} is not offered by Hetzner any more`];
  const out: string[] = [];
  if (api.deprecated || api.deprecation)
    out.push(`${ours.name} is deprecated by Hetzner${api.deprecation?.unavailable_after ? ` (unavailable after ${api.deprecation.unavailable_after})` : ""}`);
  const facts: [string, number | string, number | string][] = [
    ["vCPUs", ours.cores, api.cores],
    ["GB memory", ours.memoryGb, api.memory],
    ["GB disk", ours.diskGb, api.disk],
    ["vCPU kind", ours.cpu, api.cpu_type],
  ];
  for (const [what, mine, theirs] of facts) if (mine !== theirs) out.push(`${ours.name}: the catalogue says ${mine} ${what}, Hetzner says ${theirs}`);
  for (const location of locations) {
    const price = api.prices.find((p) => p.location === location);
    if (!price) out.push(`${ours.name} is not offered in ${location}`);
    else if (Math.abs(Number(price.price_monthly.net) - ours.eurMonth) >= 0.005)
      out.push(
        `${ours.name} in ${location}: the catalogue says €${ours.eurMonth.toFixed(2)} a month before VAT, Hetzner says €${Number(price.price_monthly.net).toFixed(2)}`,
      );
  }
  return out;
}

/**
 * Compares the catalogue with the API's answer: differences in a type a host of this stack
 * uses are issues at that host (priced in the host's location); the others are notices (priced
 * in fsn1, the location the catalogue's prices are for).
 */
export function compareCatalog(
  api: readonly ApiServerType[],
  resolution: HetznerResolution,
  hostIndex: ReadonlyMap<string, number>,
): { issues: SpecIssue[]; notices: string[] } {
  const byName = new Map(api.map((t) => [t.name, t]));
  const issues: SpecIssue[] = [];
  const notices: string[] = [];
  for (const type of SERVER_TYPES) {
    const hosts = [...resolution.hosts.values()].filter((d) => d.serverType.name === type.name);
    if (hosts.length === 0) {
      notices.push(...typeDifferences(type, byName.get(type.name), ["fsn1"]).map((d) => `catalogue (components/targets/hetzner/catalog.ts): ${d}`));
      continue;
    }
    for (const d of hosts) {
      for (const message of typeDifferences(type, byName.get(type.name), [d.location]))
        issues.push({ path: ["hosts", hostIndex.get(d.host)!], message: `host ${d.host}'s server type: ${message}` });
    }
  }
  return { issues, notices };
}

/** The whole check as `serverpark validate` runs it: skipped with a notice when it cannot ask. */
export async function checkProviderCatalog(
  resolution: HetznerResolution,
  hostIndex: ReadonlyMap<string, number>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<ProviderCatalogResult> {
  const baseUrl = env.HCLOUD_ENDPOINT || HCLOUD_API;
  const token = env.HCLOUD_TOKEN;
  const unchecked = "the server types (catalog.ts) were not checked against Hetzner's API";
  if (!token) return { status: "skipped", notice: `HCLOUD_TOKEN is not set: ${unchecked}` };
  let api: ApiServerType[];
  try {
    api = await fetchServerTypes({ token, baseUrl, timeoutMs: PROVIDER_TIMEOUT_MS });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message;
    const why = (e as Error).name === "TimeoutError" ? `no answer within ${PROVIDER_TIMEOUT_MS} ms` : `${(e as Error).message}${detail ? `: ${detail}` : ""}`;
    return { status: "skipped", notice: `Hetzner's API at ${baseUrl} could not be asked (${why}): ${unchecked}` };
  }
  return { status: "checked", source: `${baseUrl}/server_types`, ...compareCatalog(api, resolution, hostIndex) };
}
