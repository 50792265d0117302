/**
 * FTP with explicit TLS (RFC 959, RFC 2228/4217 AUTH TLS + PBSZ + PROT, RFC 2389 FEAT/OPTS,
 * RFC 3659 SIZE/MDTM/MLSD/MLST/REST, RFC 2428 EPSV) on top of UserTree, so an FTP upload is
 * as atomic, versioned, quota-checked and confined as an SFTP one.
 *
 * Hand-written on node:net/node:tls rather than ftp-srv: ftp-srv 4.6 waits for the data
 * channel's TLS handshake before it sends "150", while lftp starts that handshake only after
 * it has read the 150, so every FTPS listing with lftp hangs (found when ftp-srv was tried for
 * this role); it also pulls in old dependencies. Here a transfer command answers 150 first and only then waits for the
 * data connection and its handshake.
 *
 * Passive mode only. PORT/EPRT (active mode) are refused with 502: the server would have to
 * dial out from the private network to an address the client names, which the datacenter's
 * networks do not route and which makes the server a port scanner for anyone logged in.
 * Passive ports are a small fixed range, listened on all the time; PASV/EPSV reserves one for
 * the session, and only a connection from the control connection's client address is taken
 * (../passive.ts: the range, the per-user and per-address caps, the address a PASV reply names).
 *
 * The parts:
 *   server.ts        the listener, connection caps, shutdown
 *   session.ts       one control connection: line reading, command queue, idle timer, AUTH TLS
 *   commands.ts      the command table and what every command shares (login, REST, RNFR)
 *   transfers.ts     LIST/NLST/MLSD, RETR, STOR/APPE, ABOR
 *   data-channel.ts  PASV/EPSV and the data connection (arrival, TLS handshake, timeouts)
 *   format.ts        LIST lines, MLST facts, MDTM times
 *   replies.ts       FtpError, error → reply code, the reply wire form
 */
export { startFtpServer, type FtpDeps, type FtpServer } from "./server";
export { MAX_LINE } from "./session";
