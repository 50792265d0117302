/**
 * The file role's view (contracts/runtimeConfig.ts `accounts`): the hosting customers'
 * accounts on this file service, resolved by the program from the plan
 * (components/model/fileView.ts). Each account is its own confined tree with its share of
 * the customer's quota; password hashes arrive in the credentials file (a secret), public
 * keys here (they are not secret).
 */
import { z } from "zod";

export const fileAccountSchema = z.object({
  /** Log-in name (unique on the service, checked by the spec's validation). */
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
  /** The customer the account belongs to. */
  customer: z.string(),
  /** Bytes the account may hold: the customer's plan quota divided among their accounts. */
  quotaBytes: z.number().int().min(0),
  /** OpenSSH public keys (`ssh-ed25519 AAAA… comment`) that may log in over SFTP. */
  sshKeys: z.array(z.string()),
});

export type FileAccount = z.output<typeof fileAccountSchema>;
