/**
 * The image's HEALTHCHECK: GET http://127.0.0.1:$SP_MGMT_PORT/healthz, exit 0 on 200
 * and 1 otherwise. A container serving its management port on every address
 * (`SP_MGMT_ADDRESS=0.0.0.0`, the Hetzner target) speaks only TLS there: the check then
 * presents the container's own certificate, which the server takes as itself. It is bundled next to main.mjs and run with the image's own node,
 * because the images carry no curl or wget we could rely on. Docker keeps what this
 * prints in `docker inspect` (State.Health.Log), so the body is echoed.
 */
import { readFileSync } from "node:fs";
import { get } from "node:http";
import { get as getTls } from "node:https";
import { TLS_PATHS } from "../../contracts/paths";

const port = Number(process.env.SP_MGMT_PORT || 9100);
// The management server answers plain HTTP on the container's own loopback; on the management
// address it wants a management client certificate (images/runtime/management.ts).
const everyAddress = process.env.SP_MGMT_ADDRESS === "0.0.0.0";
const options = { host: "127.0.0.1", port, path: "/healthz", timeout: 3_000 };
const onResponse = (res: import("node:http").IncomingMessage) => {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => (body += chunk));
  res.on("end", () => {
    process.stdout.write(`${res.statusCode} ${body.trim().slice(0, 500)}\n`);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
};
const request = everyAddress
  ? getTls(
      {
        ...options,
        cert: readFileSync(process.env.SP_TLS_CERT || TLS_PATHS.cert),
        key: readFileSync(process.env.SP_TLS_KEY || TLS_PATHS.key),
        // Our own server on our own loopback: what matters is that it takes our certificate.
        rejectUnauthorized: false,
      },
      onResponse,
    )
  : get(options, onResponse);
request.on("timeout", () => request.destroy(new Error("timed out after 3 s")));
request.on("error", (error) => {
  process.stdout.write(`healthcheck failed: ${error.message}\n`);
  process.exit(1);
});
