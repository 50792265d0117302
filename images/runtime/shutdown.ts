/**
 * Graceful shutdown on SIGTERM / SIGINT.
 *
 * `docker stop` sends SIGTERM, waits (stopTimeout, 10 s by default) and then kills.
 * In that window a server should stop accepting, let in-flight requests finish and
 * flush what it must persist, so no client sees a cut connection and no data is lost.
 * Steps run in order under one deadline; past it the process exits anyway (code 1,
 * so a forced stop is visible), a clean drain exits 0. A second signal exits at once.
 */
import type { Server } from "node:net";
import type { Logger } from "./log";

export interface ShutdownStep {
  /** Shown in the logs, e.g. "management server". */
  readonly name: string;
  readonly run: () => Promise<void>;
}

export interface ShutdownOptions {
  readonly log: Logger;
  /** Run in order: usually "stop accepting" steps first, then "flush state". */
  readonly steps: readonly ShutdownStep[];
  /** @default 10000 */
  readonly deadlineMs?: number;
  /** Injected by tests. @default process.exit */
  readonly exit?: (code: number) => void;
  /** Signals that start the shutdown; tests pass []. @default ["SIGTERM", "SIGINT"] */
  readonly signals?: readonly NodeJS.Signals[];
}

/** Installs the signal handlers; returns a function that starts the same shutdown. */
export function installShutdown(options: ShutdownOptions): (reason: string) => Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const deadlineMs = options.deadlineMs ?? 10_000;
  let running: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    if (running) return running;
    options.log.info({ reason, deadlineMs }, "shutting down");
    running = drain(options.steps, deadlineMs, options.log).then((clean) => {
      options.log.info({ clean }, clean ? "shutdown complete" : "shutdown deadline passed; exiting anyway");
      exit(clean ? 0 : 1);
    });
    return running;
  };

  for (const signal of options.signals ?? ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => {
      if (running) {
        options.log.warn({ signal }, "second signal during shutdown; exiting now");
        exit(1);
        return;
      }
      void shutdown(signal);
    });
  }
  return shutdown;
}

/** Runs the steps in order; resolves false when the deadline passed first. */
async function drain(steps: readonly ShutdownStep[], deadlineMs: number, log: Logger): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), deadlineMs);
    timer.unref();
  });
  const work = (async () => {
    for (const step of steps) {
      try {
        await step.run();
        log.debug({ step: step.name }, "shutdown step done");
      } catch (error) {
        log.error({ step: step.name, err: error }, "shutdown step failed");
      }
    }
    return true as const;
  })();
  const clean = await Promise.race([work, deadline]);
  clearTimeout(timer);
  return clean;
}

/**
 * A step that stops a server accepting and waits for its open connections to end.
 * HTTP keep-alive sockets are closed as soon as they turn idle (checked every 100 ms);
 * otherwise one finished request would hold the drain until its keep-alive timeout.
 */
export function closeServerStep(name: string, server: Server): ShutdownStep {
  return {
    name,
    run: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve();
        const http = server as Server & { closeIdleConnections?: () => void };
        const sweep = http.closeIdleConnections ? setInterval(() => http.closeIdleConnections!(), 100) : undefined;
        server.close((error) => {
          clearInterval(sweep);
          if (error) reject(error);
          else resolve();
        });
        http.closeIdleConnections?.();
      }),
  };
}
