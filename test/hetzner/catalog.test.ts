/** Server type choice: table cases and a property over random capacities. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fitsType, pickServerType, SERVER_TYPES } from "../../components/targets/hetzner/catalog";

describe("pickServerType", () => {
  it.each([
    ["virtualization", { cpus: 2, memoryGb: 4, diskGb: 40 }, "cx22"],
    ["virtualization", { cpus: 8, memoryGb: 16, diskGb: 160 }, "cx42"],
    ["virtualization", { cpus: 3, memoryGb: 4, diskGb: 40 }, "cx32"],
    ["virtualization", { cpus: 16, memoryGb: 32, diskGb: 320 }, "cx52"],
    // Bigger than every shared type: a virtualization host moves to dedicated vCPUs.
    ["virtualization", { cpus: 16, memoryGb: 64, diskGb: 200 }, "ccx43"],
    ["dedicated", { cpus: 2, memoryGb: 4, diskGb: 40 }, "ccx13"],
    ["dedicated", { cpus: 8, memoryGb: 32, diskGb: 240 }, "ccx33"],
    ["dedicated", { cpus: 48, memoryGb: 192, diskGb: 960 }, "ccx63"],
  ] as const)("%s host %o → %s", (kind, capacity, expected) => {
    expect(pickServerType(kind, capacity)?.name).toBe(expected);
  });

  it.each([
    ["dedicated", { cpus: 64, memoryGb: 64, diskGb: 100 }],
    ["virtualization", { cpus: 16, memoryGb: 64, diskGb: 2000 }],
    ["dedicated", { cpus: 8, memoryGb: 256, diskGb: 100 }],
  ] as const)("no type offers a %s host %o", (kind, capacity) => {
    expect(pickServerType(kind, capacity)).toBeUndefined();
  });

  it("always returns a type that fits, and no smaller eligible type fits", () => {
    const capacity = fc.record({
      cpus: fc.integer({ min: 1, max: 64 }),
      memoryGb: fc.double({ min: 0.5, max: 256, noNaN: true }),
      diskGb: fc.integer({ min: 1, max: 1200 }),
    });
    fc.assert(
      fc.property(fc.constantFrom("dedicated" as const, "virtualization" as const), capacity, (kind, cap) => {
        const picked = pickServerType(kind, cap);
        const eligible = SERVER_TYPES.filter((t) => kind === "virtualization" || t.cpu === "dedicated");
        if (!picked) return eligible.every((t) => !fitsType(t, cap));
        if (!fitsType(picked, cap)) return false;
        if (kind === "dedicated" && picked.cpu !== "dedicated") return false;
        // Within its kind nothing earlier (smaller) fits; a shared host only goes dedicated when no shared type fits.
        const sameKindBefore = SERVER_TYPES.slice(0, SERVER_TYPES.indexOf(picked)).filter((t) => t.cpu === picked.cpu);
        if (sameKindBefore.some((t) => fitsType(t, cap))) return false;
        if (kind === "virtualization" && picked.cpu === "dedicated" && SERVER_TYPES.some((t) => t.cpu === "shared" && fitsType(t, cap))) return false;
        return true;
      }),
      { numRuns: 5000 },
    );
  });
});
