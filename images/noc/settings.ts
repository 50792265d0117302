/**
 * The noc role's settings (`services[].settings` in the stack), validated with zod at
 * start-up and exported so `serverpark validate` can check a stack before deploying it.
 */
import { z } from "zod";

export const nocSettingsSchema = z.strictObject({
  /** Time between probe rounds. @default 10000 */
  intervalMs: z.number().int().min(1000).max(3_600_000).default(10_000),
  /** A probe that has not answered after this long counts the port down. @default 2000 */
  timeoutMs: z.number().int().min(100).max(60_000).default(2000),
  /** How much probe history is kept (and shown as availability). @default 60 */
  historyMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(60),
  /** Probes running at the same time. @default 16 */
  concurrency: z.number().int().min(1).max(256).default(16),
  /** User name for the status page (the password is a generated secret file). @default "operator" */
  username: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default("operator"),
  /** Host header of the HTTP probe through the proxy. @default the datacenter domain */
  proxyHost: z.string().min(1).optional(),
  /** Database user of the `SELECT 1` probe. @default "noc" */
  dbUser: z.string().min(1).default("noc"),
  /** Database of the `SELECT 1` probe. @default "postgres" */
  dbName: z.string().min(1).default("postgres"),
});

export type NocSettings = z.output<typeof nocSettingsSchema>;
