/**
 * Who may call a replica's management port, and for what. The management port (MANAGEMENT_PORT)
 * speaks HTTPS with mutual TLS on the management network: the server presents its service
 * certificate and accepts only client certificates issued by the datacenter CA for one of the
 * callers below. The program issues those client certificates (components/DatacenterPki.ts);
 * the servers check them (images/runtime/management.ts). Declared once here so neither side
 * can add a caller or widen a grant alone.
 *
 * Inside the container, the port also answers plain HTTP on 127.0.0.1 for the image's own
 * HEALTHCHECK and for `docker exec` by whoever controls the engine: no other container can
 * reach a container's loopback, and whoever can exec into it holds more power than any route.
 */

/** What a route does: `read` reports (health, metrics, lists); `change` alters state (backup, restore, power, reload). */
export type ManagementAccess = "read" | "change";

/**
 * The callers and what each may do. The NOC watches, so it reads; the operator (a person or a
 * tool such as `serverpark chaos`, holding the stack's operator certificate) reads and changes.
 */
export const MANAGEMENT_GRANTS = {
  noc: ["read"],
  operator: ["read", "change"],
} as const satisfies Record<string, readonly ManagementAccess[]>;

export type ManagementCaller = keyof typeof MANAGEMENT_GRANTS;
export const MANAGEMENT_CALLERS = Object.keys(MANAGEMENT_GRANTS) as ManagementCaller[];

/**
 * A management client certificate carries this organizational unit and the caller's name as
 * its common name. Service certificates never carry it, so a service named "noc" or
 * "operator" is not a caller, whatever its common name says.
 */
export const MANAGEMENT_CLIENT_OU = "serverpark management client";

/** Whether `caller` may perform `access`. Unknown callers may do nothing. */
export function mayCall(caller: string, access: ManagementAccess): boolean {
  const grants: readonly ManagementAccess[] | undefined = (MANAGEMENT_GRANTS as Record<string, readonly ManagementAccess[]>)[caller];
  return grants?.includes(access) ?? false;
}

/** The access a route needs when it does not say: GET and HEAD read, anything else changes. */
export function defaultAccess(method: string): ManagementAccess {
  return method === "GET" || method === "HEAD" ? "read" : "change";
}
