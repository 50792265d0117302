/**
 * The HA member's management route (read only):
 *   GET /cluster   this member's own view (primary / standby + WAL receiver / monitor / down)
 *                  and the group as the monitor sees it (`pg_autoctl show state --json`:
 *                  each node's name, address, current and assigned state, LSN, health).
 *                  On a data node also `clientUri`: the multi-host connection string (no password).
 * When the monitor cannot be reached the local view is still returned, with `monitor.error`.
 */
import type { Route } from "../../../runtime/management";
import type { HaNode } from "./node";

export function haRoutes(node: HaNode, clientUri?: string): Route[] {
  return [
    {
      method: "GET",
      path: "/cluster",
      handler: async () => {
        const local = await node.localRole();
        let monitor: { nodes: unknown } | { error: string };
        try {
          monitor = { nodes: await node.clusterState() };
        } catch (error) {
          monitor = { error: (error as Error).message.split("\n")[0]!.slice(0, 300) };
        }
        return { status: 200, body: { name: node.options.name, kind: node.options.kind, local, monitor, ...(clientUri ? { clientUri } : {}) } };
      },
    },
  ];
}
