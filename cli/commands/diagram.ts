import { writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { EXIT, type CliCommand } from "../command";
import { loadPlan } from "../stack";
import { diagramModel } from "../../components/model/nocView";
// The NOC draws the same model coloured by live state; the renderer lives with it.
import { renderDatacenterSvg } from "../../images/noc/src/diagram";

export const command: CliCommand = {
  name: "diagram",
  summary: "draw the datacenter (feeds → PDUs → racks → hosts → replicas) as SVG",
  usage: `Usage: serverpark diagram <stack> [--out FILE] [--json]

Draws the stack's planned datacenter as a static SVG: power feeds, the PDUs in each
rack, the hosts with a wire per power supply, and the service replicas placed on every
host, with a table of services underneath. Nothing needs to run: the drawing comes from
the plan alone (the NOC page shows the same drawing coloured by live state).

Options:
  --out FILE  write the SVG to FILE instead of standard output
  --json      print the drawing's model (hosts, PDUs, replicas) as JSON instead`,
  options: { out: { type: "string" }, json: { type: "boolean" } },
  positionals: { min: 1, max: 1 },
  run({ values, positionals }, io) {
    const { plan } = loadPlan(positionals[0]!, io.cwd);
    const model = diagramModel(plan);
    if (values.json === true) {
      io.out(JSON.stringify(model, null, 2));
      return EXIT.ok;
    }
    const svg = renderDatacenterSvg(model);
    const out = values.out as string | undefined;
    if (out === undefined) {
      io.out(svg);
      return EXIT.ok;
    }
    const file = resolve(io.cwd, out);
    writeFileSync(file, svg);
    io.err(`${relative(io.cwd, file) || file}: ${plan.hosts.length} hosts, ${plan.replicas.length} replicas (${svg.length} bytes)`);
    return EXIT.ok;
  },
};
