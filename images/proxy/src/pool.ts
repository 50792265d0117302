/**
 * An upstream pool: its servers, which of them may take traffic, and the choice of one.
 * Two independent verdicts take a server out: active health checks (a GET every interval;
 * `unhealthyAfter` failures out, `healthyAfter` successes back in) and passive ejection
 * (`failures` consecutive errors seen on real traffic eject it for `ejectMs`, after which
 * it gets traffic again and one more failure ejects it again). When every server is out,
 * the pool still tries those not ejected: a flapping health check must not take a site
 * down that could be served.
 */
import { request } from "node:http";
import { Pool as UpstreamConnections } from "undici";
import type { Logger } from "../../runtime/log";

export interface UpstreamServer {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Kept-alive connections to this server (undici: cheaper per request than node:http's Agent and ClientRequest). */
  readonly connections: UpstreamConnections;
  active: number;
  healthy: boolean;
  okStreak: number;
  failStreak: number;
  passiveFailures: number;
  ejectedUntil: number;
}

export interface PoolOptions {
  readonly name: string;
  readonly servers: readonly { id: string; host: string; port: number }[];
  readonly balance: "round-robin" | "least-connections";
  readonly healthCheck: { path: string; intervalMs: number; timeoutMs: number; unhealthyAfter: number; healthyAfter: number; host?: string };
  readonly passive: { failures: number; ejectMs: number };
  /** Connecting to a server, and waiting for its answer (headers, then between body chunks). */
  readonly timeouts?: { connectMs: number; upstreamMs: number };
  readonly log: Logger;
  readonly onChange?: (pool: Pool, server: UpstreamServer) => void;
}

export class Pool {
  readonly servers: UpstreamServer[];
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly options: PoolOptions) {
    const timeouts = options.timeouts ?? { connectMs: 2000, upstreamMs: 30_000 };
    this.servers = options.servers.map((s) => ({
      ...s,
      // Keep-alive to upstreams (a new TCP handshake per request would cost more than the
      // request), no pipelining (a slow answer must not hold up the requests behind it), and
      // no Nagle delay on small writes. Idle connections close after 4 s, before a Node
      // upstream's 5 s keep-alive timeout closes them under a request.
      connections: new UpstreamConnections(`http://${s.host.includes(":") ? `[${s.host}]` : s.host}:${s.port}`, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 4000,
        connect: { timeout: timeouts.connectMs, noDelay: true },
        headersTimeout: timeouts.upstreamMs,
        bodyTimeout: timeouts.upstreamMs,
      }),
      active: 0,
      healthy: true,
      okStreak: 0,
      failStreak: 0,
      passiveFailures: 0,
      ejectedUntil: 0,
    }));
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * The server for the next request, or undefined when none may take it: the healthy ones
   * not ejected and not in `exclude` (the servers a request already failed on), else those
   * not ejected. Counts and indexes instead of filtering into arrays: it runs per request.
   */
  pick(exclude?: readonly UpstreamServer[]): UpstreamServer | undefined {
    const now = Date.now();
    const servers = this.servers;
    let healthy = 0;
    let available = 0;
    for (const s of servers) {
      if (s.ejectedUntil > now || exclude?.includes(s)) continue;
      available++;
      if (s.healthy) healthy++;
    }
    if (available === 0) return undefined;
    const onlyHealthy = healthy > 0;
    const count = onlyHealthy ? healthy : available;
    const start = this.next++ % count;
    const leastConnections = this.options.balance === "least-connections";
    // The candidates in order, k = 0..count-1; round-robin takes the start-th, least-connections
    // the fewest active, ties going to the first from the start-th on (wrapping around).
    let best: UpstreamServer | undefined;
    let bestRank = 0;
    let k = 0;
    for (const s of servers) {
      if (s.ejectedUntil > now || (onlyHealthy && !s.healthy) || exclude?.includes(s)) continue;
      const rank = (k++ - start + count) % count;
      if (!leastConnections) {
        if (rank === 0) return s;
        continue;
      }
      if (!best || s.active < best.active || (s.active === best.active && rank < bestRank)) {
        best = s;
        bestRank = rank;
      }
    }
    return best;
  }

  /** A request to `server` failed (connect error, timeout, 502-504). */
  reportFailure(server: UpstreamServer): void {
    server.passiveFailures++;
    if (server.passiveFailures >= this.options.passive.failures && server.ejectedUntil <= Date.now()) {
      server.ejectedUntil = Date.now() + this.options.passive.ejectMs;
      this.options.log.warn({ pool: this.name, upstream: server.id, forMs: this.options.passive.ejectMs }, "upstream ejected after consecutive failures");
      this.options.onChange?.(this, server);
    }
  }

  reportSuccess(server: UpstreamServer): void {
    if (server.passiveFailures !== 0) server.passiveFailures = 0;
  }

  /** Starts active health checks (one round right away). */
  startHealthChecks(): void {
    const round = () => {
      for (const s of this.servers) void this.check(s);
    };
    round();
    this.timer = setInterval(round, this.options.healthCheck.intervalMs);
    this.timer.unref();
  }

  private check(server: UpstreamServer): Promise<void> {
    const hc = this.options.healthCheck;
    return new Promise<boolean>((resolve) => {
      const req = request(
        {
          host: server.host,
          port: server.port,
          path: hc.path,
          method: "GET",
          timeout: hc.timeoutMs,
          headers: { host: hc.host ?? server.host, "user-agent": "serverpark-proxy-healthcheck" },
        },
        (res) => {
          res.resume();
          resolve((res.statusCode ?? 500) < 500);
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => resolve(false));
      req.end();
    }).then((ok) => {
      if (ok) {
        server.okStreak++;
        server.failStreak = 0;
        if (!server.healthy && server.okStreak >= hc.healthyAfter) {
          server.healthy = true;
          this.options.log.info({ pool: this.name, upstream: server.id }, "upstream healthy again");
          this.options.onChange?.(this, server);
        }
      } else {
        server.failStreak++;
        server.okStreak = 0;
        if (server.healthy && server.failStreak >= hc.unhealthyAfter) {
          server.healthy = false;
          this.options.log.warn({ pool: this.name, upstream: server.id }, "upstream failed its health checks");
          this.options.onChange?.(this, server);
        }
      }
    });
  }

  close(): void {
    clearInterval(this.timer);
    for (const s of this.servers) void s.connections.destroy().catch(() => {});
  }
}
