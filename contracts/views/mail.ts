/**
 * The mail role's view (contracts/runtimeConfig.ts `mail`): the hosting customers' domains
 * and mailboxes on this mail service, resolved by the program from the plan
 * (components/model/mailView.ts). Each mailbox is a full address with its quota; password
 * hashes arrive in the credentials file (a secret), keyed by the same address.
 */
import { z } from "zod";

export const customerMailboxSchema = z.object({
  /** `local@domain`, lower case; the log-in name for IMAP, POP3 and submission. */
  address: z.string().regex(/^[a-z0-9._+-]{1,64}@[a-z0-9.-]+$/),
  /** The customer the mailbox belongs to. */
  customer: z.string(),
  /** Bytes the mailbox may hold, all folders together: the mailbox's `quotaMb` or the plan's `mailboxQuotaMb`. */
  quotaBytes: z.number().int().min(0),
});

export const mailViewSchema = z.object({
  /** The customers' domains this service takes mail for (a name not among the mailboxes is refused with 550). */
  domains: z.array(z.string()),
  mailboxes: z.array(customerMailboxSchema),
});

export type CustomerMailbox = z.output<typeof customerMailboxSchema>;
export type MailView = z.output<typeof mailViewSchema>;
