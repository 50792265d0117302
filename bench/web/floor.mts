/**
 * Reference server for `run.ts --floor`: node:http answering every request with one file's
 * bytes and the headers our web role sends for it (prepared once, flat array, one `end`),
 * nothing else. Its CPU per request is what node:http itself costs for the answer, the floor
 * under our web role on this runtime. Run by Node directly (type stripping), never part of
 * the image.
 *
 *   node bench/web/floor.mts <port> <file>
 */
import { createServer } from "node:http";
import { readFileSync, statSync } from "node:fs";

const [port, file] = process.argv.slice(2);
const body = readFileSync(file!);
const mtime = statSync(file!).mtime;
const headers = [
  ...["x-served-by", "bench-0", "content-type", "text/html; charset=utf-8", "etag", `"${mtime.getTime().toString(16)}-${body.length.toString(16)}"`],
  ...["last-modified", mtime.toUTCString(), "cache-control", "public, max-age=60", "accept-ranges", "bytes", "vary", "Accept-Encoding"],
  ...["content-length", String(body.length)],
];
createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}).listen(Number(port), "127.0.0.1");
