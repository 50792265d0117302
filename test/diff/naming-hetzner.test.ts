/** As naming-local.test.ts, for the Hetzner stack (servers, firewalls, IPs, volumes, load balancer). */
import { describe, it } from "vitest";
import { expectEveryResourceGrouped } from "./naming";

describe("preview grouping on the real program (hetzner stack)", () => {
  it("puts every resource the program creates under a datacenter part", { timeout: 120_000 }, async () => {
    await expectEveryResourceGrouped("hetzner", { "serverpark:registryPassword": "naming-test-registry-password" });
  });
});
