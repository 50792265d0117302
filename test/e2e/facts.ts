/** What globalSetup tells the end-to-end tests about the datacenter it booted. */
import { describe, inject } from "vitest";

export interface E2eContainer {
  /** Docker container name. */
  readonly name: string;
  readonly kind: "host" | "replica";
  readonly role: string;
  readonly service?: string;
  readonly replica?: string;
  readonly host: string;
  /** network id → address */
  readonly addresses: Record<string, string>;
  /** port name → 127.0.0.1 host port */
  readonly published: Record<string, number>;
  /** Health after boot: healthy, or the reason it is not. */
  readonly health: "healthy" | string;
}

export interface E2eFacts {
  /** Why the datacenter was not booted (no Docker engine outside CI), or undefined. */
  readonly skipped?: string;
  readonly datacenter: string;
  readonly domain: string;
  /** network id → Docker network name */
  readonly networks: Record<string, string>;
  readonly containers: E2eContainer[];
  /** The plan as JSON (DatacenterPlan). */
  readonly plan: any;
  /** Roles that have an image and were deployed. */
  readonly deployedRoles: string[];
  /** Files of the operator's management client certificate and the datacenter CA (the stack output operatorCredentials). */
  readonly operator?: { readonly cert: string; readonly key: string; readonly ca: string };
  /** The recorded Docker resources (a JSON file) and the owner labels the run put on them, to rebuild a container as deployed. */
  readonly recorded?: { readonly file: string; readonly labels: Record<string, string> };
}

declare module "vitest" {
  export interface ProvidedContext {
    datacenter: E2eFacts;
  }
}

export interface E2eDatacenter extends E2eFacts {
  replica(id: string): E2eContainer;
  host(id: string): E2eContainer;
}

/**
 * The booted datacenter. When it was not booted, prints why and registers the file's tests
 * as skipped (globalSetup already failed the run if CI=true).
 */
export function e2eDatacenter(): E2eDatacenter {
  const facts = inject("datacenter");
  if (facts.skipped) {
    console.warn(`e2e skipped: ${facts.skipped}`);
  }
  const find = (pred: (c: E2eContainer) => boolean, what: string) => {
    const c = facts.containers.find(pred);
    if (!c) throw new Error(`${what} is not deployed in the e2e datacenter (deployed roles: ${facts.deployedRoles.join(", ")})`);
    return c;
  };
  return {
    ...facts,
    replica: (id) => find((c) => c.replica === id, `replica ${id}`),
    host: (id) => find((c) => c.kind === "host" && c.host === id, `host ${id}`),
  };
}

/** `describe` that is skipped (with the printed reason) when the datacenter was not booted. */
export function describeE2e(name: string, fn: () => void): void {
  const facts = inject("datacenter");
  (facts.skipped ? describe.skip : describe)(name, fn);
}
