/** The NOC page server as the page and hostile tests start it: the local stack's map, user "operator", loopback, a random port. */
import { join } from "node:path";
import { loadPlan } from "../../cli/stack";
import { diagramModel } from "../../components/model/nocView";
import type { Monitor } from "../../images/noc/src/monitor";
import { startNocWeb } from "../../images/noc/src/web";
import { createLogger } from "../../images/runtime/log";
import type { TlsFiles } from "../../images/runtime/tls";

export const localPlan = loadPlan("local", join(__dirname, "..", "..")).plan;

export function startTestNocWeb(monitor: Monitor, password: string, tls?: TlsFiles) {
  return startNocWeb({
    model: diagramModel(localPlan),
    monitor,
    username: "operator",
    password,
    log: createLogger({ role: "noc", level: "silent" }),
    refreshMs: 1000,
    historyMinutes: 60,
    port: 0,
    host: "127.0.0.1",
    ...(tls ? { tls } : {}),
  });
}
