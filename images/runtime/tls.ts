/**
 * TLS material from mounted files (the deployment mounts cert, key and CA read-only),
 * with a reload that swaps in renewed certificates without a restart: servers take
 * the context through `current()` (e.g. from an SNICallback or per connection), so a
 * reload affects new handshakes only and never drops open connections.
 */
import { readFile, stat } from "node:fs/promises";
import { createSecureContext, type SecureContext } from "node:tls";
import type { Logger } from "./log";

export interface TlsFiles {
  /** PEM certificate chain (leaf first). */
  readonly certFile: string;
  /** PEM private key. */
  readonly keyFile: string;
  /** PEM CA bundle for verifying peers (mutual TLS, upstreams); optional. */
  readonly caFile?: string;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

/** Reads the files; the error names the file that could not be read. */
export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new Error(`cannot read TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  };
  const [cert, key, ca] = await Promise.all([
    read(files.certFile, "certificate"),
    read(files.keyFile, "private key"),
    files.caFile ? read(files.caFile, "CA bundle") : Promise.resolve(undefined),
  ]);
  return ca ? { cert, key, ca } : { cert, key };
}

export interface ReloadingTls {
  /** The context for new handshakes. */
  current(): SecureContext;
  /** The material behind `current()` (for servers that take cert/key options). */
  material(): TlsMaterial;
  /** Re-reads the files; on any error keeps the old context and rethrows. */
  reload(): Promise<void>;
  /** Polls the files' mtimes and reloads on change; returns a stop function. */
  watch(intervalMs?: number): () => void;
}

/** `onReload` runs after each successful reload, for servers that hold the material themselves. */
export async function createReloadingTls(files: TlsFiles, log: Logger, onReload?: (material: TlsMaterial) => void): Promise<ReloadingTls> {
  // createSecureContext checks that key and certificate match, so a half-written
  // renewal is rejected here instead of failing every handshake later.
  const build = async () => {
    const material = await loadTlsMaterial(files);
    return { material, context: createSecureContext(material) };
  };
  let state = await build();
  const mtimes = async () => {
    const paths = [files.certFile, files.keyFile, files.caFile].filter((p): p is string => !!p);
    const stats = await Promise.all(
      paths.map((p) =>
        stat(p).then(
          (s) => s.mtimeMs,
          () => 0,
        ),
      ),
    );
    return stats.join(",");
  };
  let seen = await mtimes();

  const reload = async () => {
    state = await build();
    onReload?.(state.material);
    log.info({ certFile: files.certFile }, "TLS material reloaded");
  };

  return {
    current: () => state.context,
    material: () => state.material,
    reload,
    watch(intervalMs = 5_000) {
      const timer = setInterval(() => {
        void mtimes().then(async (now) => {
          if (now === seen) return;
          seen = now;
          await reload().catch((error: unknown) => log.error({ err: error }, "TLS reload failed; keeping the previous certificate"));
        });
      }, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
