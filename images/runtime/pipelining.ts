/**
 * HTTP/1.1 pipelining with bounded memory. Node's server calls the handler of every
 * pipelined request as soon as it is parsed; a response that cannot go out yet (an earlier
 * one on the same connection is still being written) is buffered in memory as it is
 * produced. A client that pipelines requests for a large file and reads nothing grew the
 * web server by hundreds of MiB that way (test/hostile/web.test.ts).
 *
 * `oneAtATime` runs a connection's requests one after another: the next handler starts
 * when the previous response has finished (or its connection closed), so at most one
 * response per connection is being produced, with the socket's own backpressure. With
 * `pauseAt` requests waiting, the connection is not read (so not parsed) any further until
 * half of them are answered; requests parsed from what was already read still queue, up to
 * `closeAt` (a 64 KiB read holds at most a few thousand tiny requests), beyond which the
 * connection is closed.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Socket } from "node:net";

export const PIPELINE_LIMITS = { pauseAt: 16, closeAt: 4096 };

interface Queue {
  busy: boolean;
  paused: boolean;
  /** Requests parsed while another was being answered, in order. */
  readonly waiting: { req: IncomingMessage; res: ServerResponse }[];
}

export function oneAtATime(listener: RequestListener, limits = PIPELINE_LIMITS): RequestListener {
  const queues = new WeakMap<Socket, Queue>();
  const run = (q: Queue, socket: Socket, req: IncomingMessage, res: ServerResponse): void => {
    q.busy = true;
    // Node emits `close` on every ServerResponse exactly once: a tick after `finish`, or when
    // its connection closes first. One listener on it (not a `once` for each of `finish` and
    // `close`, with their wrapper objects) is all the guard adds to a request (bench/web).
    res.on("close", () => {
      if (q.paused && q.waiting.length <= limits.pauseAt / 2) {
        q.paused = false;
        socket.resume();
      }
      const following = q.waiting.shift();
      if (following) run(q, socket, following.req, following.res);
      else q.busy = false;
    });
    listener(req, res);
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    let q = queues.get(socket);
    if (!q) queues.set(socket, (q = { busy: false, paused: false, waiting: [] }));
    if (!q.busy) return run(q, socket, req, res);
    if (q.waiting.length >= limits.closeAt) {
      socket.destroy();
      return;
    }
    q.waiting.push({ req, res });
    if (!q.paused && q.waiting.length >= limits.pauseAt) {
      q.paused = true;
      socket.pause();
    }
  };
}
