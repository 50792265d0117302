import { relative } from "node:path";
import { EXIT, type CliCommand } from "../command";
import { loadPlan, locate, StackProblems } from "../stack";
import { checkHetzner } from "../../components/targets/hetzner/settings";
import { checkProviderCatalog, type ProviderCatalogResult } from "../../components/targets/hetzner/providerCatalog";
import { StackFileError } from "../../components/spec/load";
import { formatPath } from "../../components/spec/issues";

export const command: CliCommand = {
  name: "validate",
  summary: "check a stack's datacenter spec and that it can be planned",
  usage: `Usage: serverpark validate <stack> [--json]

Checks the stack's serverpark:datacenter config: its shape, every cross-reference, each
service's role settings, that every replica can be placed and, for a stack with
serverpark:target hetzner, what Hetzner Cloud can do (locations, server types, networks,
limits). All problems are listed at once, each with file:line:col and
its config path. With HCLOUD_TOKEN set (and HCLOUD_ENDPOINT for another API base), the
server types are also checked against Hetzner's API (GET /server_types, 5 s timeout); without
a token or an answer, that check is skipped with a notice.

Options:
  --json   print {ok, stack, file, summary, issues[]} as JSON
Exit codes: 0 valid, 1 problems found, 2 usage error.`,
  options: { json: { type: "boolean" } },
  positionals: { min: 1, max: 1 },
  async run({ values, positionals }, io) {
    const json = values.json === true;
    const name = positionals[0]!;
    try {
      const { file, spec, plan } = loadPlan(name, io.cwd);
      const target = file.config["serverpark:target"] ?? "docker";
      if (target !== "docker" && target !== "hetzner") {
        const message = `serverpark:target is ${JSON.stringify(target)}; expected one of: docker, hetzner`;
        if (json) io.out(JSON.stringify({ ok: false, stack: file.stack, issues: [{ path: "serverpark:target", message }] }, null, 2));
        else io.err(`${relative(io.cwd, file.path) || file.path}: ${message}`);
        return EXIT.invalid;
      }
      let provider: ProviderCatalogResult | undefined;
      if (target === "hetzner") {
        const check = checkHetzner(spec, plan);
        const where = relative(io.cwd, file.path) || file.path;
        if (!check.ok) throw new StackProblems(where, locate(file, check.issues, io.cwd), "the datacenter for Hetzner Cloud");
        provider = await checkProviderCatalog(check.resolution, new Map(spec.hosts.map((h, i) => [h.id, i])));
        if (provider.status === "checked" && provider.issues.length > 0)
          throw new StackProblems(where, locate(file, provider.issues, io.cwd), `the datacenter for Hetzner Cloud as ${provider.source} offers it`);
      }
      const summary = {
        datacenter: spec.name,
        target,
        feeds: spec.feeds.length,
        racks: spec.racks.length,
        hosts: spec.hosts.length,
        networks: spec.networks.length,
        services: spec.services.length,
        replicas: plan.replicas.length,
      };
      const shown = relative(io.cwd, file.path) || file.path;
      const notices = provider ? (provider.status === "skipped" ? [provider.notice] : provider.notices) : [];
      if (json)
        io.out(
          JSON.stringify({ ok: true, stack: file.stack, file: shown, summary, notes: plan.notes, ...(provider ? { provider } : {}), issues: [] }, null, 2),
        );
      else {
        io.out(
          `${shown}: ok — datacenter ${spec.name} (${target}): ${summary.feeds} feeds, ${summary.racks} racks, ${summary.hosts} hosts, ${summary.networks} networks, ${summary.services} services (${summary.replicas} replicas)`,
        );
        for (const note of plan.notes) io.out(`  note: ${formatPath(note.path)}: ${note.message}`);
        if (provider?.status === "checked") io.out(`  checked against ${provider.source}`);
        for (const notice of notices) io.out(`  notice: ${notice}`);
      }
      return EXIT.ok;
    } catch (e) {
      if (e instanceof StackProblems) {
        if (json) io.out(JSON.stringify({ ok: false, file: e.file, issues: e.issues.map((i) => ({ ...i, path: formatPath(i.path) })) }, null, 2));
        else io.err(e.message);
        return EXIT.invalid;
      }
      if (e instanceof StackFileError) {
        if (json) io.out(JSON.stringify({ ok: false, issues: [{ path: "", message: e.message }] }, null, 2));
        else io.err(e.message);
        return EXIT.invalid;
      }
      throw e;
    }
  },
};
