/** The host agent's environment, parsed once at start-up (see images/runtime/config.ts). */
import { z } from "zod";
import { backupClientsSchema, BACKUP_STORE_PATH, DEFAULT_BACKUP_MAX_BYTES } from "../../../contracts/backups";
import { jsonVar, runtimeEnv } from "../../runtime/config";

const NAME_RULE = "expected a name of letters, digits, '.', '_' or '-'";
const name = z.string({ error: NAME_RULE }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, NAME_RULE);
const PSUS_EXAMPLE = '[{"pdu":"pdu-a1","feed":"A"},{"pdu":"pdu-b1","feed":"B"}]';

/** One power supply of the host: which PDU it is plugged into, and that PDU's feed. */
export const psuSchema = z.strictObject({
  /** Stable PSU id, used in metrics and POST /power. @default "psu<n>" (1-based) */
  id: name.optional(),
  pdu: name,
  feed: name,
});

export const hostAgentEnv = z.object({
  ...runtimeEnv,
  SP_DATACENTER: name,
  SP_HOST_ID: name,
  SP_RACK: name,
  SP_HOST_KIND: z.enum(["dedicated", "virtualization"]),
  SP_PSUS: jsonVar(
    z
      .array(psuSchema)
      .min(1, `expected at least one PSU, e.g. ${PSUS_EXAMPLE}`)
      .refine((psus) => new Set(psus.map((p, i) => p.id ?? `psu${i + 1}`)).size === psus.length, {
        message: "expected distinct PSU ids",
      }),
    PSUS_EXAMPLE,
  ),
  /** The services whose backups this host keeps (contracts/backups.ts); none: no store. */
  SP_BACKUP_CLIENTS: jsonVar(backupClientsSchema, '[{"service":"db","retentionDays":14}]').default([]),
  SP_BACKUP_STORE_DIR: z.string().default(BACKUP_STORE_PATH),
  SP_BACKUP_MAX_BYTES: z.coerce.number().int().positive().default(DEFAULT_BACKUP_MAX_BYTES),
});

export type HostAgentConfig = z.output<typeof hostAgentEnv>;
