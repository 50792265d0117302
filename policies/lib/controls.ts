/**
 * The ISO/IEC 27001:2022 Annex A catalogue: the 93 controls by id and title. The compliance
 * report walks this list so that every control appears — evidenced by policies, or listed as
 * not addressed by this pack — and none is silently omitted.
 */

export const FRAMEWORK = {
  name: "iso27001",
  version: "2022",
  reference: "ISO/IEC 27001:2022 Annex A",
} as const;

export interface AnnexAControl {
  /** `A.8.14` */
  readonly id: string;
  readonly title: string;
  /** Annex A theme: 5 organizational, 6 people, 7 physical, 8 technological. */
  readonly theme: "organizational" | "people" | "physical" | "technological";
}

const THEMES = { 5: "organizational", 6: "people", 7: "physical", 8: "technological" } as const;

// Titles as ISO/IEC 27001:2022 Annex A names them (short titles only; the control text is the
// standard's and stays there).
const TITLES: Record<5 | 6 | 7 | 8, readonly string[]> = {
  5: [
    "Policies for information security",
    "Information security roles and responsibilities",
    "Segregation of duties",
    "Management responsibilities",
    "Contact with authorities",
    "Contact with special interest groups",
    "Threat intelligence",
    "Information security in project management",
    "Inventory of information and other associated assets",
    "Acceptable use of information and other associated assets",
    "Return of assets",
    "Classification of information",
    "Labelling of information",
    "Information transfer",
    "Access control",
    "Identity management",
    "Authentication information",
    "Access rights",
    "Information security in supplier relationships",
    "Addressing information security within supplier agreements",
    "Managing information security in the ICT supply chain",
    "Monitoring, review and change management of supplier services",
    "Information security for use of cloud services",
    "Information security incident management planning and preparation",
    "Assessment and decision on information security events",
    "Response to information security incidents",
    "Learning from information security incidents",
    "Collection of evidence",
    "Information security during disruption",
    "ICT readiness for business continuity",
    "Legal, statutory, regulatory and contractual requirements",
    "Intellectual property rights",
    "Protection of records",
    "Privacy and protection of PII",
    "Independent review of information security",
    "Compliance with policies, rules and standards for information security",
    "Documented operating procedures",
  ],
  6: [
    "Screening",
    "Terms and conditions of employment",
    "Information security awareness, education and training",
    "Disciplinary process",
    "Responsibilities after termination or change of employment",
    "Confidentiality or non-disclosure agreements",
    "Remote working",
    "Information security event reporting",
  ],
  7: [
    "Physical security perimeters",
    "Physical entry",
    "Securing offices, rooms and facilities",
    "Physical security monitoring",
    "Protecting against physical and environmental threats",
    "Working in secure areas",
    "Clear desk and clear screen",
    "Equipment siting and protection",
    "Security of assets off-premises",
    "Storage media",
    "Supporting utilities",
    "Cabling security",
    "Equipment maintenance",
    "Secure disposal or re-use of equipment",
  ],
  8: [
    "User endpoint devices",
    "Privileged access rights",
    "Information access restriction",
    "Access to source code",
    "Secure authentication",
    "Capacity management",
    "Protection against malware",
    "Management of technical vulnerabilities",
    "Configuration management",
    "Information deletion",
    "Data masking",
    "Data leakage prevention",
    "Information backup",
    "Redundancy of information processing facilities",
    "Logging",
    "Monitoring activities",
    "Clock synchronization",
    "Use of privileged utility programs",
    "Installation of software on operational systems",
    "Networks security",
    "Security of network services",
    "Segregation of networks",
    "Web filtering",
    "Use of cryptography",
    "Secure development life cycle",
    "Application security requirements",
    "Secure system architecture and engineering principles",
    "Secure coding",
    "Security testing in development and acceptance",
    "Outsourced development",
    "Separation of development, test and production environments",
    "Change management",
    "Test information",
    "Protection of information systems during audit testing",
  ],
};

export const ANNEX_A: readonly AnnexAControl[] = ([5, 6, 7, 8] as const).flatMap((clause) =>
  TITLES[clause].map((title, i) => ({ id: `A.${clause}.${i + 1}`, title, theme: THEMES[clause] })),
);

const BY_ID = new Map(ANNEX_A.map((c) => [c.id, c]));

export function annexAControl(id: string): AnnexAControl {
  const control = BY_ID.get(id);
  if (!control) throw new Error(`unknown ISO/IEC 27001:2022 Annex A control "${id}"`);
  return control;
}

/** Sort key for `A.8.14` style ids (numeric per part). */
export function controlOrder(a: string, b: string): number {
  const pa = a.slice(2).split(".").map(Number);
  const pb = b.slice(2).split(".").map(Number);
  return pa[0]! - pb[0]! || pa[1]! - pb[1]!;
}
