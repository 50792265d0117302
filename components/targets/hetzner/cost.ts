/**
 * What a stack costs on Hetzner a month, from the plan and the target's decisions, with the
 * catalogue's prices (EUR before VAT, German and Finnish locations): one line per server type,
 * the server backups, the IPv4 addresses (every server has one), the volumes and the load
 * balancer. Traffic within the included allowance and private networks cost nothing; traffic
 * beyond it, snapshots and VAT are not counted. `serverpark plan hetzner` prints it.
 */
import { ROLE_INFO } from "../../../contracts/roles";
import type { DatacenterPlan } from "../../plan";
import { LOAD_BALANCER_TYPE_BY_NAME, PRICES } from "./catalog";
import { volumeSizeGb, type HetznerResolution } from "./settings";

export interface CostLine {
  readonly item: string;
  readonly count: number;
  /** EUR a month for one (a GB, for volumes). */
  readonly unitEur: number;
  /** count × unit, rounded to the cent. */
  readonly eurMonth: number;
}

export interface MonthlyCost {
  readonly lines: readonly CostLine[];
  /** The sum of the lines (as printed: each rounded to the cent). */
  readonly totalEur: number;
}

const cents = (n: number) => Math.round(n * 100) / 100;
const line = (item: string, count: number, unitEur: number): CostLine => ({ item, count, unitEur, eurMonth: cents(count * unitEur) });

export function monthlyCost(plan: DatacenterPlan, resolution: HetznerResolution): MonthlyCost {
  const decisions = plan.hosts.map((h) => resolution.hosts.get(h.id)!);
  const lines: CostLine[] = [];
  const types = [...new Set(decisions.map((d) => d.serverType))].sort((a, b) => a.eurMonth - b.eurMonth || a.name.localeCompare(b.name));
  for (const type of types) lines.push(line(`server ${type.name}`, decisions.filter((d) => d.serverType === type).length, type.eurMonth));
  for (const type of types) {
    const backedUp = decisions.filter((d) => d.serverType === type && d.backups).length;
    if (backedUp > 0) lines.push(line(`backups of ${type.name} (20 %)`, backedUp, cents(type.eurMonth * PRICES.backupShare)));
  }
  lines.push(line("IPv4 address", decisions.length, PRICES.ipv4EurMonth));
  const volumeGb = plan.replicas.filter((r) => ROLE_INFO[r.role].stateful).reduce((n, r) => n + volumeSizeGb(r.resources.diskGb), 0);
  if (volumeGb > 0) lines.push(line("volume GB", volumeGb, PRICES.volumeEurGbMonth));
  if (resolution.loadBalancer) {
    const lb = LOAD_BALANCER_TYPE_BY_NAME.get(resolution.settings.loadBalancer.type)!;
    lines.push(line(`load balancer ${lb.name}`, 1, lb.eurMonth));
  }
  return { lines, totalEur: cents(lines.reduce((n, l) => n + l.eurMonth, 0)) };
}
