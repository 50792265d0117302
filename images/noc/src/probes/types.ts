/** What every probe gets and returns; the monitor adds timing and the timeout. */
import type { NocSettings } from "../../settings";

export interface ProbeTarget {
  readonly service: string;
  readonly role: string;
  readonly replica: string;
  readonly host: string;
  /** The role's port as the directory lists it (name, number, protocol). */
  readonly port: { readonly name: string; readonly port: number; readonly protocol: string };
  /** Address the NOC reaches the replica on (a network both are attached to). */
  readonly address: string;
}

export interface ProbeContext {
  /** Aborted when the probe's time is up; probes must release their sockets on it. */
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly domain: string;
  readonly settings: NocSettings;
  /** The datacenter CA, to verify TLS servers; without it TLS is checked but not verified. */
  readonly ca?: Buffer;
  readonly dbPassword?: string;
}

/** `degraded`: the server answered, but not the way a healthy one would (HTTP 5xx, SERVFAIL). */
export interface ProbeOutcome {
  readonly ok: boolean;
  readonly degraded?: boolean;
  readonly detail: string;
}

export type Probe = (target: ProbeTarget, ctx: ProbeContext) => Promise<ProbeOutcome>;
