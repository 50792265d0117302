/**
 * The file role assembled: one UserTree per user on the data volume, the SFTP server, the
 * FTP/FTPS server (both on the same trees and the same failed-login limit), the backups, and
 * management routes for versions and backups:
 *   GET  /versions?user=alice&path=/a.txt        versions of a file
 *   POST /versions/restore {user, path, version}  make a version current again
 *   GET  /backups                                 list backups
 *   POST /backups                                 take a backup now
 *   POST /backups/restore {name, user?}           restore a backup
 */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Counter, Gauge, Registry } from "prom-client";
import { z } from "zod";
import type { BackupPolicy } from "../../runtime/backups";
import { HttpError, type Route, type StreamRoute } from "../../runtime/management";
import type { Logger } from "../../runtime/log";
import type { ReloadingTls } from "../../runtime/tls";
import { Authenticator } from "../../runtime/auth";
import type { FileSettings } from "../../../contracts/settings/file";
import type { FileAccount } from "../../../contracts/views/file";
import { FileBackups } from "./backup";
import { startFtpServer, type FtpServer } from "./ftp";
import type { PlannedAddresses } from "./passive";
import { classify, PathError, virtualPath } from "./paths";
import { DEFAULT_LIMITS, type FileLimits } from "./limits";
import { siteRoutes } from "./siteServe";
import { SitePublisher } from "./sites";
import { createSshServer, parsePublicKeys } from "./ssh";
import { UserTree } from "./tree";

export interface FileAppOptions {
  readonly dataDir: string;
  readonly backupDir: string;
  /** The stack's declared backup (UTC cron schedule, retentionDays); else settings.backup.intervalMinutes. */
  readonly backupPolicy?: BackupPolicy;
  readonly settings: FileSettings;
  readonly credentials: Readonly<Record<string, string>>;
  /** Hosting customers' accounts (the config's view): each its own tree and quota; SSH keys log in too. */
  readonly accounts?: readonly FileAccount[];
  /** Where the accounts' `public_html` is published for the web replicas (sites.ts); no publishing without it. */
  readonly sitesDir?: string;
  /** Rounds of the site publisher (default 1 s). */
  readonly publishIntervalMs?: number;
  /** Also pack each published site and serve the archives to web replicas that pull (contracts/sites.ts, siteServe.ts). */
  readonly serveSites?: boolean;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly sftpPort: number;
  /** FTP control port (0 picks a free one); FTP is off when undefined. */
  readonly ftpPort?: number;
  /** Passive data ports, inclusive. */
  readonly ftpPassivePorts?: { readonly from: number; readonly to: number };
  /** The replica's planned addresses and networks' CIDRs, for the address PASV names behind NAT (see passive.ts). */
  readonly ftpPlanned?: PlannedAddresses;
  /** The service certificate for FTPS; required when `settings.ftp.requireTls`. */
  readonly tls?: ReloadingTls;
  readonly log: Logger;
  readonly registry?: Registry;
  /** Bounds against hostile clients (limits.ts); tests shorten the timers. */
  readonly limits?: Partial<FileLimits>;
}

export interface FileApp {
  readonly sftpPort: number;
  /** Undefined when FTP is off. */
  readonly ftp: FtpServer | undefined;
  readonly trees: ReadonlyMap<string, UserTree>;
  readonly backups: FileBackups;
  readonly registry: Registry;
  readonly routes: Route[];
  /** The published sites for pulling web replicas (siteServe.ts), when `serveSites`. */
  readonly streams: StreamRoute[];
  close(): Promise<void>;
}

/**
 * The SSH host key lives on the volume so clients see the same key after a restart. ECDSA
 * P-256 from node:crypto, not ssh2's ed25519 generator: about 1 in 300 of the keys that one
 * produces cannot be parsed back by ssh2 itself (measured), which would stop start-up.
 */
function hostKey(dataDir: string): string {
  const file = join(dataDir, "ssh_host_ecdsa_key");
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync("ec", {
      namedCurve: "prime256v1",
      privateKeyEncoding: { type: "sec1", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    writeFileSync(file, privateKey, { mode: 0o600 });
  }
  return readFileSync(file, "utf8");
}

export async function startFileApp(options: FileAppOptions): Promise<FileApp> {
  const { settings, log } = options;
  await mkdir(join(options.dataDir, "users"), { recursive: true, mode: 0o700 });
  const trees = new Map<string, UserTree>();
  for (const user of settings.users)
    trees.set(user.name, await UserTree.open(user.name, join(options.dataDir, "users", user.name), user.quotaBytes, settings.versions));
  const publicKeys = new Map<string, ReturnType<typeof parsePublicKeys>["keys"]>();
  for (const account of options.accounts ?? []) {
    if (trees.has(account.name)) throw new Error(`customer account ${account.name} is also a user in settings.users`);
    trees.set(account.name, await UserTree.open(account.name, join(options.dataDir, "users", account.name), account.quotaBytes, settings.versions));
    const { keys, bad } = parsePublicKeys(account.sshKeys);
    if (bad.length > 0) log.warn({ user: account.name, keys: bad }, "SSH public keys that do not parse are ignored");
    if (keys.length > 0) publicKeys.set(account.name, keys);
  }
  const auth = new Authenticator(new Map(Object.entries(options.credentials)), { maxFailures: 5, windowMs: 60_000, blockMs: 300_000 });
  const registry = options.registry ?? new Registry();
  const accountTrees = (options.accounts ?? []).map((a) => trees.get(a.name)!);
  const publisher =
    options.sitesDir !== undefined && accountTrees.length > 0
      ? new SitePublisher(
          accountTrees.map((t) => ({ account: t.name, filesDir: t.filesDir })),
          options.sitesDir,
          log,
          options.publishIntervalMs,
          options.serveSites === true,
        )
      : undefined;
  publisher?.start();
  const backups = new FileBackups(trees, join(options.dataDir, "snapshots"), options.backupDir, settings.backup, log, options.backupPolicy, registry);
  backups.start();

  const uploaded = new Counter({ name: "file_uploads_total", help: "Completed uploads", registers: [registry] });
  new Gauge({
    name: "file_used_bytes",
    help: "Live bytes per user",
    labelNames: ["user"],
    registers: [registry],
    collect() {
      for (const t of trees.values()) this.set({ user: t.name }, t.used);
    },
  });

  const limits: FileLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const server = createSshServer({ trees, auth, hostKey: hostKey(options.dataDir), publicKeys, limits, log, onUpload: () => uploaded.inc() });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.sftpPort, options.host, () => resolve());
  });
  const sftpPort = (server.address() as AddressInfo).port;
  let ftp: FtpServer | undefined;
  if (options.ftpPort !== undefined) {
    if (settings.ftp.requireTls && !options.tls) throw new Error("ftp.requireTls is on but no TLS certificate was given (SP_TLS_CERT, SP_TLS_KEY)");
    ftp = await startFtpServer(options.ftpPort, {
      trees,
      auth,
      tls: options.tls,
      settings: settings.ftp,
      passivePorts: options.ftpPassivePorts ?? { from: 30000, to: 30009 },
      limits,
      host: options.host,
      ...(options.ftpPlanned ? { planned: options.ftpPlanned } : {}),
      log,
      onUpload: () => uploaded.inc(),
    }).catch((error: unknown) => {
      server.close();
      throw error;
    });
  }
  log.info({ sftpPort, ftpPort: ftp?.port, passivePorts: ftp?.passivePorts, users: [...trees.keys()] }, "file server listening");

  const treeOf = (user: unknown) => {
    const tree = typeof user === "string" ? trees.get(user) : undefined;
    if (!tree) throw new HttpError(404, `no such user: ${String(user)}`);
    return tree;
  };
  const relOf = (path: unknown) => {
    const { versions, rel } = classify(virtualPath(String(path ?? "")));
    if (versions || rel === "") throw new HttpError(400, "expected the path of a file, e.g. /docs/a.txt");
    return rel;
  };
  const restoreBody = z.object({ user: z.string(), path: z.string(), version: z.string() });
  const backupRestoreBody = z.object({ name: z.string(), user: z.string().optional() });
  const routes: Route[] = [
    {
      method: "GET",
      path: "/versions",
      handler: async ({ url }) => ({ status: 200, body: await treeOf(url.searchParams.get("user")).listVersions(relOf(url.searchParams.get("path"))) }),
    },
    {
      method: "POST",
      path: "/versions/restore",
      handler: async ({ body }) => {
        const b = restoreBody.safeParse(body);
        if (!b.success) throw new HttpError(400, 'expected {"user", "path", "version"}');
        try {
          await treeOf(b.data.user).restore(relOf(b.data.path), b.data.version);
        } catch (error) {
          if (error instanceof PathError) throw new HttpError(404, error.message);
          throw error;
        }
        return { status: 200, body: { restored: b.data } };
      },
    },
    { method: "GET", path: "/backups", handler: async () => ({ status: 200, body: await backups.list() }) },
    { method: "POST", path: "/backups", handler: async () => ({ status: 201, body: await backups.run() }) },
    {
      method: "POST",
      path: "/backups/restore",
      handler: async ({ body }) => {
        const b = backupRestoreBody.safeParse(body);
        if (!b.success) throw new HttpError(400, 'expected {"name", "user"?}');
        return { status: 200, body: { files: await backups.restore(b.data.name, b.data.user) } };
      },
    },
  ];

  return {
    sftpPort,
    ftp,
    trees,
    backups,
    registry,
    routes,
    streams: publisher && options.serveSites ? siteRoutes(() => publisher.versions()) : [],
    close: async () => {
      backups.stop();
      await publisher?.stop();
      await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), ftp?.close()]);
    },
  };
}
