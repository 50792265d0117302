/**
 * Generated passwords are hashed with scrypt at the cost their entropy calls for
 * (contracts/credentials/scrypt.ts GENERATED_PASSWORD_PARAMS), and a login for an unknown
 * user checks a never-matching hash with the same parameters as the real users' hashes, so
 * its timing does not tell unknown users from known ones.
 */
import { describe, expect, it } from "vitest";
import { GENERATED_PASSWORD_PARAMS, hashPassword, neverMatchingHash, verifyPassword } from "../../contracts/credentials/scrypt";
import { Authenticator } from "../../images/runtime/auth";

const LIMIT = { maxFailures: 100, windowMs: 60_000, blockMs: 60_000 };

describe("scrypt parameters", () => {
  it("a generated password's hash carries N=1024 and verifies; a chosen one's keeps N=16384", async () => {
    const generated = hashPassword("Zq8x2Lw0Pm4Rt6Yv9Bn3Kc1J", Buffer.alloc(16, 1), GENERATED_PASSWORD_PARAMS);
    expect(generated.split("$").slice(0, 4)).toEqual(["scrypt", "1024", "8", "1"]);
    expect(await verifyPassword("Zq8x2Lw0Pm4Rt6Yv9Bn3Kc1J", generated)).toBe(true);
    expect(await verifyPassword("Zq8x2Lw0Pm4Rt6Yv9Bn3Kc1K", generated)).toBe(false);
    expect(hashPassword("chosen").split("$")[1]).toBe("16384");
  });

  it("the never-matching hash takes the parameters of the hash it is like, and never matches", async () => {
    const like = hashPassword("x", Buffer.alloc(16), GENERATED_PASSWORD_PARAMS);
    const dummy = neverMatchingHash(like);
    expect(dummy.split("$").slice(0, 4)).toEqual(["scrypt", "1024", "8", "1"]);
    expect(neverMatchingHash().split("$")[1]).toBe("16384");
    expect(await verifyPassword("", dummy)).toBe(false);
  });

  it("an unknown user is checked against a hash as costly as the known users' (same N), not a fixed one", async () => {
    const users = new Map([["alice", hashPassword("pw-alice", Buffer.alloc(16, 2), GENERATED_PASSWORD_PARAMS)]]);
    const auth = new Authenticator(users, LIMIT);
    // The hash an unknown user is checked against (private: no other way to see it without timing).
    expect((auth as unknown as { dummy: string }).dummy.split("$")[1]).toBe("1024");
    expect(await auth.login("192.0.2.1", "mallory", "pw")).toEqual({ ok: false, reason: "invalid" });
    expect(await auth.login("192.0.2.1", "alice", "pw-alice")).toEqual({ ok: true, user: "alice" });
  });
});
