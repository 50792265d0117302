/**
 * The preview grouping relies on the `Datacenter` component's naming scheme. This runs the
 * real program on the local stack under Pulumi's mocks and checks that every resource it
 * creates lands in a datacenter part (a network, host, service or the datacenter itself) and
 * that every replica's resources land under their own service — so a renamed child shows up
 * here, not as a badly grouped comment.
 */
import { describe, it } from "vitest";
import { expectEveryResourceGrouped } from "./naming";

describe("preview grouping on the real program (local stack, Docker target)", () => {
  it("puts every resource the program creates under a datacenter part", { timeout: 120_000 }, async () => {
    await expectEveryResourceGrouped("local");
  });
});
