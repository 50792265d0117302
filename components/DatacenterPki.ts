import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { BACKUP_CLIENT_OU, backupClientName, type BackupClient } from "../contracts/backups";
import { SITES_CLIENT_OU } from "../contracts/sites";
import { MANAGEMENT_CLIENT_OU, type ManagementCaller } from "../contracts/management";
import type { DatacenterPlan, PlannedHost, PlannedService } from "./plan";

export interface ServiceCertificate {
  readonly certPem: pulumi.Output<string>;
  /** A Pulumi secret. */
  readonly keyPem: pulumi.Output<string>;
  readonly caPem: pulumi.Output<string>;
}

export interface DatacenterPkiArgs {
  readonly plan: DatacenterPlan;
  /** Certificate lifetime in hours. @default 8760 (one year) */
  readonly validityHours?: number;
}

/**
 * The datacenter's own certificate authority and one server certificate per service, valid
 * for the service's names on every network, its replicas' names and addresses, and any extra
 * names the role asks for (the sites a proxy serves). Private keys stay Pulumi secrets.
 */
export class DatacenterPki extends pulumi.ComponentResource {
  readonly caPem: pulumi.Output<string>;
  private readonly caKey: tls.PrivateKey;
  private readonly ca: tls.SelfSignedCert;
  private readonly validityHours: number;
  private readonly plan: DatacenterPlan;

  constructor(name: string, args: DatacenterPkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("serverpark:datacenter:Pki", name, {}, opts);
    this.plan = args.plan;
    this.validityHours = args.validityHours ?? 8760;
    this.caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
    this.ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: this.caKey.privateKeyPem,
        subject: { commonName: `Serverpark ${args.plan.datacenter} CA`, organization: "Serverpark" },
        isCaCertificate: true,
        validityPeriodHours: this.validityHours * 5,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
      },
      { parent: this },
    );
    this.caPem = this.ca.certPem;
    this.registerOutputs({ caPem: this.caPem });
  }

  /** Names a service's certificate covers. Pure, so tests and targets agree on it. */
  static namesFor(plan: DatacenterPlan, service: PlannedService, extra: readonly string[] = []): { dnsNames: string[]; ipAddresses: string[] } {
    const byId = replicaIndex(plan);
    // An HA db group's monitor serves TLS to the group's keepers under the same certificate.
    const replicas = [...service.replicas, ...(service.ha ? [service.ha.monitor] : [])].map((id) => byId.get(id)!);
    const dns = new Set<string>([`${service.id}.${plan.domain}`, ...extra]);
    const ips = new Set<string>(["127.0.0.1"]);
    for (const net of service.networks) dns.add(`${service.id}.${net}.${plan.domain}`);
    for (const r of replicas) {
      dns.add(r.id);
      dns.add(`${r.id}.${plan.domain}`);
      for (const [net, address] of Object.entries(r.addresses)) {
        dns.add(`${r.id}.${net}.${plan.domain}`);
        ips.add(address);
      }
    }
    dns.add(service.id);
    return { dnsNames: [...dns].sort(), ipAddresses: [...ips].sort() };
  }

  /** Issues the certificate of one service; `name` is the service component's name, `parent` the component. */
  certificateFor(name: string, service: PlannedService, parent: pulumi.Resource, extraNames: readonly string[] = []): ServiceCertificate {
    const names = DatacenterPki.namesFor(this.plan, service, extraNames);
    return this.issue(name, { commonName: `${service.id}.${this.plan.domain}`, organization: "Serverpark" }, names, ["server_auth", "client_auth"], parent);
  }

  /**
   * A host agent's certificate, for its management port (images/runtime/management.ts): valid
   * for the host's name and its addresses.
   */
  hostCertificate(name: string, host: PlannedHost, parent: pulumi.Resource): ServiceCertificate {
    const names = { dnsNames: [`host-${host.id}`, `host-${host.id}.${this.plan.domain}`], ipAddresses: ["127.0.0.1", ...Object.values(host.addresses)].sort() };
    // client_auth too: the agent's own health check presents it to its own port (images/runtime/healthcheck.ts).
    return this.issue(name, { commonName: `host-${host.id}.${this.plan.domain}`, organization: "Serverpark" }, names, ["server_auth", "client_auth"], parent);
  }

  /**
   * A management caller's client certificate (contracts/management.ts): the management OU and
   * the caller's name, client use only. The NOC gets its own; the operator's is a stack output.
   */
  managementClient(name: string, caller: ManagementCaller, parent: pulumi.Resource): ServiceCertificate {
    return this.issue(
      name,
      { commonName: caller, organizationalUnit: MANAGEMENT_CLIENT_OU, organization: "Serverpark" },
      { dnsNames: [], ipAddresses: [] },
      ["client_auth"],
      parent,
    );
  }

  /**
   * A stateful replica's backup client certificate (contracts/backups.ts): the backup OU and
   * `<service>/<replica>`, client use only, so the target host's store lets it write its own
   * copies and read its service's, nothing else.
   */
  backupClient(name: string, client: BackupClient, parent: pulumi.Resource): ServiceCertificate {
    return this.issue(
      name,
      { commonName: backupClientName(client), organizationalUnit: BACKUP_CLIENT_OU, organization: "Serverpark" },
      { dnsNames: [], ipAddresses: [] },
      ["client_auth"],
      parent,
    );
  }

  /**
   * A web replica's sites client certificate (contracts/sites.ts): the sites OU and
   * `<web service>/<replica>`, client use only, so the file replicas' management port serves it
   * the published sites and nothing else.
   */
  sitesClient(name: string, commonName: string, parent: pulumi.Resource): ServiceCertificate {
    return this.issue(
      name,
      { commonName, organizationalUnit: SITES_CLIENT_OU, organization: "Serverpark" },
      { dnsNames: [], ipAddresses: [] },
      ["client_auth"],
      parent,
    );
  }

  private issue(
    name: string,
    subject: tls.types.input.CertRequestSubject,
    names: { dnsNames: string[]; ipAddresses: string[] },
    uses: string[],
    parent: pulumi.Resource,
  ): ServiceCertificate {
    const key = new tls.PrivateKey(`${name}-tls-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
    const request = new tls.CertRequest(`${name}-tls-csr`, { privateKeyPem: key.privateKeyPem, subject, ...names }, { parent });
    const cert = new tls.LocallySignedCert(
      `${name}-tls-cert`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: this.caKey.privateKeyPem,
        caCertPem: this.ca.certPem,
        validityPeriodHours: this.validityHours,
        earlyRenewalHours: 720,
        allowedUses: ["digital_signature", "key_encipherment", ...uses],
      },
      { parent },
    );
    return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem), caPem: this.ca.certPem };
  }
}

const indexes = new WeakMap<DatacenterPlan, Map<string, DatacenterPlan["replicas"][number]>>();

function replicaIndex(plan: DatacenterPlan): Map<string, DatacenterPlan["replicas"][number]> {
  let index = indexes.get(plan);
  if (!index) {
    index = new Map(plan.replicas.map((r) => [r.id, r]));
    indexes.set(plan, index);
  }
  return index;
}
