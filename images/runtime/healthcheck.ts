/**
 * The image's HEALTHCHECK: GET http://127.0.0.1:$SP_MGMT_PORT/healthz, exit 0 on 200
 * and 1 otherwise. It is bundled next to main.mjs and run with the image's own node,
 * because the images carry no curl or wget we could rely on. Docker keeps what this
 * prints in `docker inspect` (State.Health.Log), so the body is echoed.
 */
import { get } from "node:http";

const port = Number(process.env.SP_MGMT_PORT || 9100);
// The management server always answers plain HTTP on the container's own loopback; on the
// management address it wants a management client certificate (images/runtime/management.ts).
const request = get({ host: "127.0.0.1", port, path: "/healthz", timeout: 3_000 }, (res) => {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => (body += chunk));
  res.on("end", () => {
    process.stdout.write(`${res.statusCode} ${body.trim().slice(0, 500)}\n`);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
});
request.on("timeout", () => request.destroy(new Error("timed out after 3 s")));
request.on("error", (error) => {
  process.stdout.write(`healthcheck failed: ${error.message}\n`);
  process.exit(1);
});
