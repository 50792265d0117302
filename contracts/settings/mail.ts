/**
 * The mail role's settings (`services[].settings` in the stack), validated with zod at
 * start-up and exported so `serverpark validate` can check a stack before deploying it.
 * Users and their passwords are NOT settings: they are generated as Pulumi secrets by
 * components/roles/mail.ts and reach the replica as a credentials file of slow hashes.
 */
import { z } from "zod";

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const domain = z
  .string()
  .regex(DOMAIN, "expected a domain name such as example.org")
  .transform((d) => d.toLowerCase());

export const mailSettingsSchema = z.strictObject({
  /** Extra domains we accept mail for; the datacenter's own domain is always included. @default [] */
  domains: z.array(domain).default([]),
  /** Mailbox names (local parts) of the users; passwords are generated per user. @default ["postmaster"] */
  users: z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "expected a lower-case local part such as alice")).default(["postmaster"]),
  /** Largest message accepted, in bytes (advertised with SIZE). @default 26214400 (25 MiB) */
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .max(200 * 1024 * 1024)
    .default(25 * 1024 * 1024),
  /** Recipients per message. @default 100 */
  maxRecipients: z.number().int().min(1).max(10_000).default(100),
  /** Relay for mail to other domains; without one, submission refuses remote recipients. */
  smarthost: z
    .strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(25),
      /** Implicit TLS (port 465 style); otherwise STARTTLS is used when offered. @default false */
      secure: z.boolean().default(false),
    })
    .optional(),
  /** Outbound retry schedule: exponential back-off from `initialDelayMs` up to `maxDelayMs`. */
  retry: z
    .strictObject({
      initialDelayMs: z.number().int().min(10).default(60_000),
      maxDelayMs: z.number().int().min(10).default(3_600_000),
      /** After this long a message is bounced to its sender. @default 432000000 (5 days) */
      giveUpAfterMs: z
        .number()
        .int()
        .min(10)
        .default(5 * 24 * 3_600_000),
    })
    .default({ initialDelayMs: 60_000, maxDelayMs: 3_600_000, giveUpAfterMs: 5 * 24 * 3_600_000 }),
  /** Failed logins per client address (SMTP AUTH, IMAP, POP3 together). */
  loginLimit: z
    .strictObject({
      maxFailures: z.number().int().min(1).default(5),
      windowMs: z.number().int().min(100).default(60_000),
      blockMs: z.number().int().min(100).default(300_000),
    })
    .default({ maxFailures: 5, windowMs: 60_000, blockMs: 300_000 }),
});

export type MailSettings = z.output<typeof mailSettingsSchema>;

/** The credentials file (a Pulumi secret): user name -> slow password hash (see src/passwords.ts). */
export const mailCredentialsSchema = z.strictObject({
  users: z.record(z.string(), z.string().startsWith("scrypt$", "expected an scrypt$... hash, never a plain password")),
});
export type MailCredentials = z.output<typeof mailCredentialsSchema>;
