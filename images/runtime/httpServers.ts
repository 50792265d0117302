/**
 * The HTTP and HTTPS listeners web and proxy share: Node's servers with the role's limits,
 * answers for clients that half-close or send garbage, and an HTTPS listener that picks a
 * certificate by SNI — one held in memory (`sniContext`: the proxy's ACME certificates), the
 * exact name, then `*.<parent>`, then the replica's own certificate, which clients without SNI
 * get too. Every certificate is a {@link ReloadingTls}: a renewed
 * file is picked up for new handshakes (open connections keep theirs) without a restart.
 */
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { SecureContext } from "node:tls";
import { closeServer, listen } from "./listen";
import type { Logger } from "./log";
import { proxyProtocolServer, type ProxyProtocolOptions } from "./proxyProtocol";
import { createReloadingTls, type ReloadingTls, type TlsFiles } from "./tls";

/** A certificate served for these names (exact, or `*.example.test` for one label). */
export interface SniCertificate {
  readonly names: readonly string[];
  readonly files: TlsFiles;
}

export interface HttpListenersOptions {
  readonly host: string;
  readonly httpPort: number;
  /** Undefined: no HTTPS listener. */
  readonly httpsPort?: number;
  /** The replica's certificate: names without one of their own, and clients without SNI. */
  readonly defaultCertificate?: TlsFiles;
  readonly certificates?: readonly SniCertificate[];
  /** Asked first for each SNI name: a certificate held in memory (the proxy's ACME ones); undefined to fall through. */
  readonly sniContext?: (name: string) => SecureContext | undefined;
  /** Node's server limits (header size, timeouts). */
  readonly limits: ServerOptions;
  /** The request handler; `tls` says which listener took the request. */
  readonly handler: (tls: boolean) => RequestListener;
  /** WebSocket and other upgrades; without it Node refuses them. */
  readonly onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, tls: boolean) => void;
  /** Called for every connection closed for a protocol error. */
  readonly onClientError?: () => void;
  /** Logged (warn) when HTTPS was asked for but there is no certificate at all. */
  readonly noCertificateMessage: string;
  readonly log: Logger;
  /** How often certificate files are checked for changes. @default 5000 */
  readonly reloadIntervalMs?: number;
  /** PROXY protocol from a load balancer (./proxyProtocol.ts): both listeners read it from the trusted peers. */
  readonly proxyProtocol?: ProxyProtocolOptions;
}

export interface HttpListeners {
  readonly http: Server;
  readonly https?: Server;
  readonly httpPort: number;
  readonly httpsPort?: number;
  /**
   * Whether each listener accepts connections now. Ask this, not `http.listening`: with the PROXY
   * protocol the servers never listen themselves, the TCP servers in front of them do.
   */
  listening(): { readonly http: boolean; readonly https: boolean };
  /** Re-reads every certificate now (the watch does it on its own when files change). */
  reloadCertificates(): Promise<void>;
  /** Stops accepting, closes idle keep-alive sockets, stops the certificate watch. */
  close(): Promise<void>;
}

const MIN_TLS_VERSION = "TLSv1.2";

/** The status line for a request Node's parser refused. */
function clientErrorStatus(code: string | undefined): string {
  if (code === "HPE_HEADER_OVERFLOW") return "431 Request Header Fields Too Large";
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "408 Request Timeout";
  return "400 Bad Request";
}

export async function startHttpListeners(options: HttpListenersOptions): Promise<HttpListeners> {
  const { log } = options;
  const tune = <S extends Server>(server: S, tls: boolean): S => {
    // A client that half-closes after its request (`nc -N`, some load balancers' probes)
    // must still get the answer: by default Node aborts the request on the client's FIN.
    // The flag is undocumented but has existed since Node 0.x; with it, Node finishes the
    // pending response and then closes, as nginx does.
    (server as S & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    const onUpgrade = options.onUpgrade;
    if (onUpgrade) server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head, tls));
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
      options.onClientError?.();
      if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
      socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    });
    return server;
  };

  const http = tune(createHttpServer({ ...options.limits }, options.handler(false)), false);
  const reloading: ReloadingTls[] = [];
  let https: HttpsServer | undefined;
  if (options.httpsPort !== undefined) {
    const byName = new Map<string, ReloadingTls>();
    for (const certificate of options.certificates ?? []) {
      const tls = await createReloadingTls(certificate.files, log);
      reloading.push(tls);
      for (const name of certificate.names) byName.set(name.toLowerCase(), tls);
    }
    // Clients without SNI get the server's own context: it is replaced when the file changes.
    const fallback = options.defaultCertificate
      ? await createReloadingTls(options.defaultCertificate, log, (material) =>
          https?.setSecureContext({ cert: material.cert, key: material.key, minVersion: MIN_TLS_VERSION }),
        )
      : undefined;
    if (fallback) reloading.push(fallback);
    if (reloading.length > 0) {
      const SNICallback = (servername: string, cb: (error: Error | null, context?: SecureContext) => void) => {
        const name = servername.toLowerCase();
        const wildcard = `*${name.slice(name.indexOf("."))}`;
        cb(null, options.sniContext?.(name) ?? (byName.get(name) ?? byName.get(wildcard) ?? fallback)?.current());
      };
      const own = fallback ? { cert: fallback.material().cert, key: fallback.material().key } : {};
      https = tune(createHttpsServer({ ...options.limits, ...own, minVersion: MIN_TLS_VERSION, SNICallback }, options.handler(true)), true);
    } else {
      log.warn(options.noCertificateMessage);
    }
  }
  const watches = reloading.map((tls) => tls.watch(options.reloadIntervalMs));

  // With the PROXY protocol a TCP server in front of each listens and hands connections over.
  const front = (server: Server) => (options.proxyProtocol ? proxyProtocolServer(server, options.proxyProtocol) : server);
  const httpFront = front(http);
  const httpsFront = https ? front(https) : undefined;
  const httpPort = await listen(httpFront, options.httpPort, options.host);
  const httpsPort = httpsFront ? await listen(httpsFront, options.httpsPort!, options.host) : undefined;
  return {
    http,
    ...(https ? { https } : {}),
    httpPort,
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    listening: () => ({ http: httpFront.listening, https: httpsFront?.listening ?? false }),
    reloadCertificates: async () => {
      await Promise.all(reloading.map((tls) => tls.reload()));
    },
    close: async () => {
      for (const stop of watches) stop();
      const fronts = [httpFront, httpsFront].filter((f) => f !== http && f !== https);
      await Promise.all([closeServer(http), closeServer(https), ...fronts.map((f) => closeServer(f))]);
    },
  };
}
