/**
 * A db replica's HA view (contracts/runtimeConfig.ts `ha`), only for the members of a highly
 * available db group (a db service with two or more replicas; images/db/README.md "High
 * availability"): which part of the pg_auto_failover group this replica is, the address it
 * registers under, the monitor's address and the data nodes'. The passwords of the group's
 * two logins are not here: they are secret files (contracts/paths.ts DB_HA_*_PASSWORD_PATH).
 * A db service with one replica gets no `ha` and runs a single PostgreSQL.
 */
import { z } from "zod";

const endpointSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

export const dbHaViewSchema = z.object({
  /** `monitor`: decides failovers; `postgres`: a data node (primary or hot standby). */
  part: z.enum(["monitor", "postgres"]),
  /** This member's name on the monitor: its replica id. */
  name: z.string().min(1),
  /** The address the other members reach this one by (on the group's network; also on the service certificate). */
  hostname: z.string().min(1),
  /** The monitor, at its address on the group's network. */
  monitor: endpointSchema,
  /** Every data node (this one included when it is one), in replica order: the peers of pg_hba and the client URI's hosts. */
  nodes: z.array(endpointSchema.extend({ name: z.string().min(1) })).min(2),
});

export type DbHaView = z.output<typeof dbHaViewSchema>;
