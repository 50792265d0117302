/**
 * The rules that relate hosting customers (`customers:` in the spec) to the rest of it: the
 * plan they bought and its limits and capacity, their domains (unique, not overlapping each
 * other nor the datacenter's own zone), their records (inside their domain), file accounts
 * (unique log-in names in the datacenter's file service) and mailboxes (on their domains).
 * Every problem comes with its config path, like the rest of validate.ts.
 */
import type { RoleSettings } from "./roleSettings";
import type { ConfigPath, SpecIssue } from "./issues";
import type { DatacenterSpec } from "./schema";

/** The services a customer needs: files to upload to, web to serve, a proxy to reach it, DNS for the names (mail for mailboxes). */
const NEEDED = [
  ["file", "to hold their files"],
  ["web", "to serve their sites"],
  ["proxy", "to reach their sites"],
  ["dns", "to serve their domains"],
] as const;

/** A record's name as the zone will hold it: relative names hang off the domain, `@` is the domain, a trailing dot makes it absolute. */
function recordName(name: string, domain: string): string {
  if (name === "@") return domain;
  return (name.endsWith(".") ? name.slice(0, -1) : `${name}.${domain}`).toLowerCase();
}

/** True when `a` and `b` are the same name or one lies inside the other. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

/**
 * @param fileUsers the parsed `users` of each file service (by service index); undefined when
 *   role settings are not checked
 */
export function checkCustomers(spec: DatacenterSpec, fileUsers: ReadonlyMap<number, RoleSettings["file"]["users"]> | undefined): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (spec.customers.length === 0) return issues;
  const at = (c: number, ...rest: (string | number)[]): ConfigPath => ["customers", c, ...rest];

  for (const [role, why] of NEEDED) {
    if (!spec.services.some((s) => s.role === role)) issues.push({ path: ["customers"], message: `customers need a ${role} service ${why}; none is declared` });
  }

  // Customers reach their accounts from the internet: the file service must face it.
  const internetNets = new Set(spec.networks.filter((n) => n.exposure === "internet").map((n) => n.id));
  const f = spec.services.findIndex((s) => s.role === "file");
  if (f >= 0 && !spec.services[f]!.networks.some((n) => internetNets.has(n))) {
    issues.push({
      path: ["services", f, "networks"],
      message: `file service "${spec.services[f]!.id}" holds the customers' accounts, which they reach over SFTP/FTPS from the internet; add an internet network (${[...internetNets].join(", ") || "none declared"})`,
    });
  }

  const plans = new Map(spec.plans.map((p) => [p.id, p]));
  const customerIds = new Map<string, number>();
  // Every domain of every customer, for duplicates and overlaps: name → where it was declared.
  const domains: { name: string; c: number; d: number }[] = [];
  // File log-in names: the file services' own users first, then every customer account.
  const accounts = new Map<string, string>();
  spec.services.forEach((svc, s) => {
    for (const user of fileUsers?.get(s) ?? []) accounts.set(user.name, `a user of file service "${svc.id}" (services[${s}].settings.users)`);
  });
  const sold = new Map<string, number>(); // plan id → customers so far
  const fileService = spec.services.find((s) => s.role === "file");
  const fileDiskMb = fileService ? (plans.get(fileService.plan)?.diskGb ?? 0) * 1024 : 0;
  let quotaMb = 0;
  const mailAddresses = new Map<string, string>();

  spec.customers.forEach((customer, c) => {
    const first = customerIds.get(customer.id);
    if (first !== undefined) issues.push({ path: at(c, "id"), message: `duplicate customer id "${customer.id}" (first declared at customers[${first}])` });
    else customerIds.set(customer.id, c);

    const plan = plans.get(customer.plan);
    const hosting = plan?.hosting;
    if (!plan) {
      const sellable = spec.plans.filter((p) => p.hosting).map((p) => p.id);
      issues.push({
        path: at(c, "plan"),
        message: `unknown plan "${customer.plan}"; ${sellable.length ? `expected one of: ${sellable.join(", ")}` : "no plan has hosting limits"}`,
      });
    } else if (!hosting) {
      issues.push({ path: at(c, "plan"), message: `plan "${plan.id}" is not sold for hosting (it has no \`hosting\` limits)` });
    } else {
      const n = (sold.get(plan.id) ?? 0) + 1;
      sold.set(plan.id, n);
      if (n > hosting.customers)
        issues.push({
          path: at(c, "plan"),
          message: `plan "${plan.id}" may be sold to ${hosting.customers} customer${hosting.customers === 1 ? "" : "s"}; this is customer ${n}`,
        });
      quotaMb += hosting.quotaMb;
      if (fileService && quotaMb > fileDiskMb)
        issues.push({
          path: at(c, "plan"),
          message: `the customers' quotas up to here add up to ${quotaMb} MiB, more than the ${fileDiskMb} MiB disk of file service "${fileService.id}" (plan "${fileService.plan}")`,
        });
    }

    customer.domains.forEach((domain, d) => {
      const path = at(c, "domains", d, "name");
      if (overlaps(domain.name, spec.domain)) {
        issues.push({ path, message: `${domain.name} ${domain.name === spec.domain ? "is" : "overlaps"} the datacenter's own domain ${spec.domain}` });
      }
      for (const other of domains) {
        if (!overlaps(domain.name, other.name)) continue;
        const where = `customers[${other.c}].domains[${other.d}]`;
        issues.push({
          path,
          message:
            domain.name === other.name
              ? `duplicate domain ${domain.name} (first declared at ${where})`
              : `${domain.name} overlaps ${other.name} (${where}); a domain belongs to one customer`,
        });
        break;
      }
      domains.push({ name: domain.name, c, d });
      if (hosting && d === hosting.domains) {
        issues.push({
          path: at(c, "domains", d),
          message: `plan "${customer.plan}" allows ${hosting.domains} domain${hosting.domains === 1 ? "" : "s"} per customer`,
        });
      }
      domain.records.forEach((record, r) => {
        const name = recordName(record.name, domain.name);
        if (name !== domain.name && !name.endsWith(`.${domain.name}`)) {
          issues.push({ path: at(c, "domains", d, "records", r, "name"), message: `${name} is outside the customer's domain ${domain.name}` });
        } else if (name === domain.name && (record.type === "CNAME" || record.type === "NS")) {
          issues.push({ path: at(c, "domains", d, "records", r, "type"), message: `a ${record.type} record cannot sit at the zone apex ${domain.name}` });
        }
      });
    });

    customer.fileAccounts.forEach((account, a) => {
      if (!account.password && account.sshKeys.length === 0) {
        issues.push({ path: at(c, "fileAccounts", a), message: `account "${account.name}" has neither a password nor an SSH key; it could never log in` });
      }
      const taken = accounts.get(account.name);
      if (taken !== undefined) issues.push({ path: at(c, "fileAccounts", a, "name"), message: `"${account.name}" is already ${taken}` });
      else accounts.set(account.name, `an account of customer "${customer.id}" (customers[${c}].fileAccounts[${a}])`);
      if (hosting && a === hosting.fileAccounts) {
        issues.push({
          path: at(c, "fileAccounts", a),
          message: `plan "${customer.plan}" allows ${hosting.fileAccounts} file account${hosting.fileAccounts === 1 ? "" : "s"} per customer`,
        });
      }
    });

    if (customer.mailboxes.length > 0 && !spec.services.some((s) => s.role === "mail")) {
      issues.push({ path: at(c, "mailboxes"), message: "mailboxes need a mail service; none is declared" });
    }
    const own = new Set(customer.domains.map((d) => d.name));
    customer.mailboxes.forEach((box, m) => {
      const domain = box.address.slice(box.address.indexOf("@") + 1);
      if (!own.has(domain))
        issues.push({ path: at(c, "mailboxes", m, "address"), message: `${domain} is not one of the customer's domains (${[...own].join(", ")})` });
      const taken = mailAddresses.get(box.address);
      if (taken !== undefined)
        issues.push({ path: at(c, "mailboxes", m, "address"), message: `duplicate mailbox ${box.address} (first declared at ${taken})` });
      else mailAddresses.set(box.address, `customers[${c}].mailboxes[${m}]`);
      if (hosting && m === hosting.mailboxes) {
        issues.push({
          path: at(c, "mailboxes", m),
          message: `plan "${customer.plan}" allows ${hosting.mailboxes} mailbox${hosting.mailboxes === 1 ? "" : "es"} per customer`,
        });
      }
      if (hosting && box.quotaMb !== undefined && box.quotaMb > hosting.mailboxQuotaMb) {
        issues.push({
          path: at(c, "mailboxes", m, "quotaMb"),
          message: `is ${box.quotaMb} MiB, more than the ${hosting.mailboxQuotaMb} MiB plan "${customer.plan}" allows`,
        });
      }
    });
  });
  return issues;
}
