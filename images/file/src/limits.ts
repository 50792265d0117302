/**
 * Bounds that hold against hostile clients, for both protocols (README: "Limits under attack").
 * The defaults are what the role runs with; tests shorten the timers.
 */
export interface FileLimits {
  /** Seconds a connection (FTP or SSH) has to log in; commands do not extend it. */
  readonly preAuthSeconds: number;
  /** FTP commands accepted before login; the connection is closed (421) after that. */
  readonly preAuthCommands: number;
  /** FTP command lines read ahead of the one running; reading pauses beyond this. */
  readonly queuedCommands: number;
  /** Reply bytes waiting for a slow reader (FTP control, SSH socket); reading pauses beyond this. */
  readonly unsentBytes: number;
  /** SSH connections at once from one client address (more are closed at once). */
  readonly sshConnectionsPerIp: number;
  /** SSH password attempts per connection. */
  readonly sshAuthAttempts: number;
  /** SSH sessions (channels) per connection. */
  readonly sshSessions: number;
  /** Open SFTP handles (files and folders) per connection. */
  readonly sftpHandles: number;
  /** SFTP requests being worked on at once per connection; reading pauses beyond this. */
  readonly sftpInflight: number;
  /** Largest SFTP READ answered (bytes); a client asking for more gets this much. Offered as `limits@openssh.com`, with the same for WRITE. */
  readonly sftpReadBytes: number;
  /** Bytes of READs (asked for) and WRITEs (carried) being worked on at once per connection; one request always may run. */
  readonly sftpBytesInFlight: number;
  /** Read-ahead buffers of files open for download, per connection (sftp.ts, readahead.ts: 1 MiB a file). */
  readonly sftpReadAheadBytes: number;
}

export const DEFAULT_LIMITS: FileLimits = {
  preAuthSeconds: 30,
  preAuthCommands: 50,
  queuedCommands: 16,
  unsentBytes: 256 * 1024,
  sshConnectionsPerIp: 10,
  sshAuthAttempts: 6,
  sshSessions: 4,
  sftpHandles: 64,
  sftpInflight: 32,
  sftpReadBytes: 255 * 1024,
  sftpBytesInFlight: 2 * 1024 * 1024,
  sftpReadAheadBytes: 2 * 1024 * 1024,
};
