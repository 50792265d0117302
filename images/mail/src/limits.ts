/**
 * What one client may cost the mail role, for every protocol (the "Limits under attack"
 * section of the README lists them). The defaults suit a provider's mail server; tests
 * start the app with smaller deadlines.
 */
export interface MailLimits {
  /** Open connections per client address, per listener (25, 587, 993, 995 each). */
  readonly perAddress: number;
  /** Connections per listener that have not logged in yet (IMAP, POP3, submission). */
  readonly preAuthConnections: number;
  /** From connect to successful login (IMAP, POP3, submission); activity does not extend it. */
  readonly preAuthMs: number;
  /** Commands allowed before login (IMAP, POP3); the connection ends after that. */
  readonly preAuthCommands: number;
  /** Largest IMAP literal before login (user names and passwords only). */
  readonly preAuthLiteralBytes: number;
  /** Unsent reply bytes after which a connection's input is not read until the client reads. */
  readonly writeHighWater: number;
  /** Idle time after login (IMAP ≥ 30 min by RFC 3501; POP3 ≥ 10 min by RFC 1939). */
  readonly imapIdleMs: number;
  readonly pop3IdleMs: number;
  /** Whole session on port 25 (no login there): an MTA that needs longer reconnects. */
  readonly smtpSessionMs: number;
  /** TLS handshake deadline on 993/995 (587 and 25 use smtp-server's own socket timeout). */
  readonly handshakeMs: number;
}

export const DEFAULT_LIMITS: MailLimits = {
  perAddress: 16,
  preAuthConnections: 512,
  preAuthMs: 60_000,
  preAuthCommands: 30,
  preAuthLiteralBytes: 4096,
  writeHighWater: 256 * 1024,
  imapIdleMs: 30 * 60_000,
  pop3IdleMs: 10 * 60_000,
  smtpSessionMs: 10 * 60_000,
  handshakeMs: 10_000,
};
