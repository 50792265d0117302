/**
 * The power poller: every `intervalMs` the NOC reads every host agent's `GET /power` over
 * HTTPS on the agent's management address, presenting its management client certificate
 * (contracts/management.ts: the NOC may read) and verifying the agent against the datacenter
 * CA with the address checked against the certificate — fail closed: no CA or client
 * certificate means nothing is read and every host stays "unknown". Each read is bounded
 * (time, body size, schema); a host whose agent does not answer is "unknown", never
 * "unpowered". What the answers allow the NOC to infer is in ./powerState.ts.
 */
import { Agent, request } from "node:https";
import { Counter, Gauge, type Registry } from "prom-client";
import type { DiagramModel } from "../../../contracts/views/noc";
import type { Logger } from "../../runtime/log";
import { agentReportSchema, derivePower, type HostReading, type PowerState, type PowerView } from "./powerState";

export interface PowerPollerOptions {
  readonly model: DiagramModel;
  /** Host id → its agent's address (the NOC's view, `hostAgents`). */
  readonly agents: Readonly<Record<string, string>>;
  /** The agents' management port (MANAGEMENT_PORT); per host when agents share an address's loopback (tests). */
  readonly port: number | Readonly<Record<string, number>>;
  /** The NOC's management client certificate and key, and the datacenter CA; without them nothing is polled. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca: Buffer };
  /** @default 1000 */
  readonly intervalMs?: number;
  /** Per read, connection and TLS handshake included. @default 800 */
  readonly timeoutMs?: number;
  readonly log: Logger;
  readonly registry?: Registry;
  /** @default Date.now */
  readonly now?: () => number;
}

const MAX_BODY_BYTES = 16 * 1024;
const STATES: readonly PowerState[] = ["powered", "unpowered", "partial", "unknown"];

export class PowerPoller {
  private readonly readings = new Map<string, HostReading>();
  private at: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly agent: Agent | undefined;
  private readonly polls: Counter<"host" | "result">;

  constructor(private readonly options: PowerPollerOptions) {
    const { tls } = options;
    // One TLS session per agent, kept alive between reads; rejectUnauthorized is the default, stated anyway.
    this.agent = tls
      ? new Agent({ ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true, keepAlive: true, maxSockets: 1, minVersion: "TLSv1.2" })
      : undefined;
    const registers = options.registry ? [options.registry] : [];
    this.polls = new Counter({
      name: "noc_power_polls_total",
      help: "Reads of host agents' power state, by result",
      labelNames: ["host", "result"],
      registers,
    });
    const view = () => this.view();
    new Gauge({
      name: "noc_power_state",
      help: "Power state of each feed, PDU, rack and host as the NOC infers it from the host agents (1 for the current state)",
      labelNames: ["kind", "id", "state"],
      registers,
      collect() {
        const v = view();
        for (const [kind, entries] of [
          ["feed", v.feeds],
          ["pdu", v.pdus],
          ["rack", v.racks],
          ["host", v.hosts],
        ] as const) {
          for (const [id, e] of Object.entries(entries)) for (const state of STATES) this.set({ kind, id, state }, e.state === state ? 1 : 0);
        }
      },
    });
  }

  /** The current picture (hosts never read are unknown). */
  view(): PowerView {
    return derivePower(this.options.model, this.readings, this.at);
  }

  /** Reads every agent once (a round already running is awaited instead of doubled). */
  pollOnce(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const hosts = this.options.model.hosts.map((h) => h.id);
    const results = await Promise.all(hosts.map(async (host) => [host, await this.read(host)] as const));
    for (const [host, reading] of results) {
      if (reading) this.readings.set(host, reading);
      else this.readings.delete(host);
    }
    this.at = (this.options.now ?? Date.now)();
  }

  private async read(host: string): Promise<HostReading | undefined> {
    const address = this.options.agents[host];
    if (!address) return undefined;
    if (!this.agent) return { error: "the NOC has no management client certificate or CA" };
    try {
      const { port } = this.options;
      const body = await this.get(address, typeof port === "number" ? port : (port[host] ?? 0));
      const parsed = agentReportSchema.safeParse(JSON.parse(body));
      if (!parsed.success) throw Object.assign(new Error("the answer is not a power report"), { result: "invalid" });
      this.polls.inc({ host, result: "ok" });
      return { report: parsed.data };
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { result?: string };
      const result =
        e.result ?? (e.name === "SyntaxError" ? "invalid" : /timed out/.test(e.message) ? "timeout" : e.code === "ECONNREFUSED" ? "refused" : "error");
      this.polls.inc({ host, result });
      this.options.log.debug({ host, address, result, err: e.message }, "power read failed");
      return { error: `${e.code ? `${e.code}: ` : ""}${e.message}`.slice(0, 200) };
    }
  }

  private get(address: string, port: number): Promise<string> {
    const timeoutMs = this.options.timeoutMs ?? 800;
    return new Promise((resolve, reject) => {
      const req = request({ host: address, port, path: "/power", method: "GET", agent: this.agent, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { result: "http" }));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) req.destroy(Object.assign(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`), { result: "invalid" }));
          else chunks.push(chunk);
        });
        res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        res.on("error", reject);
      });
      req.on("error", (error) => reject(error.name === "AbortError" ? new Error(`timed out after ${timeoutMs} ms`) : error));
      req.end();
    });
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      void this.pollOnce().catch((error: unknown) => this.options.log.error({ err: error }, "power round failed"));
      this.timer = setTimeout(tick, this.options.intervalMs ?? 1000);
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.agent?.destroy();
  }
}
