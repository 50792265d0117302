/**
 * The tests' way to run the Pulumi program under mocks (lab/record.ts) with stable
 * provider-computed values: passwords and random bytes derived from resource names (so
 * snapshots are reproducible and the end-to-end tests can log in with the password a
 * replica was deployed with) and real keys and certificates (so real TLS clients accept
 * the servers; `realTls: false` skips them where nothing connects).
 */
import { createHash } from "node:crypto";
import { runUnderMocks as record, type MockRun, type MockRunOptions } from "../../lab/record";
import { mintTls } from "../../lab/tls";
import { mockPassword } from "./mockCredentials";

export { isSecretValue, SECRET_SIG, unwrapSecrets, valueOf, type MockRun, type RecordedResource } from "../../lab/record";

/** Stable generated values per resource name. */
function stableRandom(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> | undefined {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { result: mockPassword(name, Number(inputs.length ?? 24)) };
    case "random:index/randomBytes:RandomBytes": {
      const bytes = createHash("sha512")
        .update(`bytes:${name}`)
        .digest()
        .subarray(0, Number(inputs.length ?? 16));
      return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    default:
      return undefined;
  }
}

/**
 * Public addresses Hetzner would hand out, stable per resource name: IPv4 from the benchmarking
 * range 198.18.0.0/15, IPv6 from the documentation prefix 2001:db8::/32.
 */
export function hcloudAddresses(type: string, name: string): Record<string, unknown> | undefined {
  const h = createHash("sha256").update(`address:${name}`).digest();
  const ipv4 = `198.${18 + (h[0]! & 1)}.${h[1]}.${h[2]}`;
  const ipv6 = `2001:db8:${h.readUInt16BE(3).toString(16)}:${h.readUInt16BE(5).toString(16)}::1`;
  switch (type) {
    case "hcloud:index/server:Server":
      return { ipv4Address: ipv4, ipv6Address: ipv6 };
    case "hcloud:index/primaryIp:PrimaryIp":
      return { ipAddress: ipv4 };
    case "hcloud:index/loadBalancer:LoadBalancer":
      return { ipv4, ipv6 };
    default:
      return undefined;
  }
}

/**
 * Keys and certificates minted under mocks, by resource and inputs: runs that share one keep
 * them as a deployment's state would (a resource whose inputs did not change keeps its outputs),
 * so two runs differ only where the program's inputs did.
 */
export type MintedTls = Map<string, Promise<Record<string, unknown> | undefined>>;

export function runUnderMocks<T = Record<string, unknown>>(
  load: () => Promise<T>,
  options: Omit<MockRunOptions, "outputs"> & { readonly realTls?: boolean; readonly minted?: MintedTls },
): Promise<MockRun<T>> {
  const { realTls = true, minted, ...rest } = options;
  const mint = (type: string, name: string, inputs: Record<string, any>) => {
    if (!minted) return mintTls(type, inputs);
    const key = `${type}\0${name}\0${JSON.stringify(inputs)}`;
    if (!minted.has(key)) minted.set(key, mintTls(type, inputs));
    return minted.get(key)!;
  };
  return record(load, {
    ...rest,
    outputs: async (type, name, inputs) =>
      stableRandom(type, name, inputs) ?? hcloudAddresses(type, name) ?? (realTls ? await mint(type, name, inputs) : undefined),
  });
}
