/** The RRL's client networks and token buckets (images/dns/src/rrl.ts), with a clock the test moves. */
import { describe, expect, it } from "vitest";
import { ResponseRateLimiter } from "../../images/dns/src/rrl";

describe("response rate limiter", () => {
  it("groups IPv4 clients by the configured prefix and IPv6 clients by their first four groups", () => {
    const at = (ipv4PrefixLength: number) => new ResponseRateLimiter({ responsesPerSecond: 5, slip: 2, ipv4PrefixLength });
    expect(at(24).network("192.0.2.7")).toBe("192.0.2.0");
    expect(at(16).network("192.0.2.7")).toBe("192.0.0.0");
    expect(at(19).network("10.42.200.255")).toBe("10.42.192.0");
    expect(at(32).network("255.255.255.255")).toBe("255.255.255.255");
    expect(at(0).network("203.0.113.9")).toBe("0.0.0.0");
    expect(at(24).network("2001:db8:1:2:3::1")).toBe("2001:db8:1:2");
  });

  it("sends the rate per second per network and answer, then slips every slip-th and drops the rest", () => {
    let now = 0;
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 5, slip: 2, ipv4PrefixLength: 24 }, () => now);
    const burst = Array.from({ length: 9 }, () => rrl.decide("192.0.2.7", "edge|A"));
    expect(burst).toEqual(["send", "send", "send", "send", "send", "drop", "slip", "drop", "slip"]);
    // Same /24, other answer: its own bucket; other /24: its own bucket.
    expect(rrl.decide("192.0.2.99", "mail|A")).toBe("send");
    expect(rrl.decide("192.0.3.7", "edge|A")).toBe("send");
    expect(rrl.decide("192.0.2.200", "edge|A")).toBe("drop");
    now += 1000;
    expect(rrl.decide("192.0.2.7", "edge|A")).toBe("send");
  });
});
