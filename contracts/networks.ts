/**
 * What a network is for, declared in the stack (`networks[].exposure`) and handed to every
 * replica with the networks it is attached to (contracts/runtimeConfig.ts `networks`), so
 * servers choose a network by its purpose and never by its id.
 */
import { z } from "zod";

/** `internet`: published to the world; `internal`: service to service; `management`: health, metrics, the NOC. */
export const EXPOSURES = ["internet", "internal", "management"] as const;
export type Exposure = (typeof EXPOSURES)[number];
export const exposureSchema = z.enum(EXPOSURES);

/** An IPv4 or IPv6 network in CIDR notation (e.g. 10.42.1.0/24). */
export const cidrSchema = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, "expected a CIDR such as 10.42.1.0/24");
