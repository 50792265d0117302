/** The RRL's client networks and token buckets (images/dns/src/rrl.ts), with a clock the test moves. */
import { describe, expect, it } from "vitest";
import { parseIpv6, ResponseRateLimiter } from "../../images/dns/src/rrl";

describe("response rate limiter", () => {
  it("groups IPv4 clients by the configured prefix", () => {
    const at = (ipv4PrefixLength: number) => new ResponseRateLimiter({ responsesPerSecond: 5, slip: 2, ipv4PrefixLength });
    expect(at(24).network("192.0.2.7")).toBe("192.0.2.0");
    expect(at(16).network("192.0.2.7")).toBe("192.0.0.0");
    expect(at(19).network("10.42.200.255")).toBe("10.42.192.0");
    expect(at(32).network("255.255.255.255")).toBe("255.255.255.255");
    expect(at(0).network("203.0.113.9")).toBe("0.0.0.0");
  });

  it("groups IPv6 clients by the /56 of their 16 address bytes, however the address is written", () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 5, slip: 2, ipv4PrefixLength: 24, ipv6PrefixLength: 56 });
    const net = (address: string) => rrl.network(address);
    // One /56: the compressed and the full spelling, hosts in different /64s of it, upper case.
    const same = ["2001:db8::1", "2001:db8:0:0::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8:0:ff::2", "2001:DB8:0:AB:1:2:3:4", "2001:db8::1%eth0"];
    expect(new Set(same.map(net)).size).toBe(1);
    // The next /56 and another network are not.
    expect(net("2001:db8:0:100::1")).not.toBe(net("2001:db8::1"));
    expect(net("2001:db9::1")).not.toBe(net("2001:db8::1"));
    // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d: it belongs to its IPv4 /24.
    expect(net("::ffff:192.0.2.7")).toBe("192.0.2.0");
    expect(net("::ffff:192.0.2.200")).toBe(net("192.0.2.7"));
    const at48 = new ResponseRateLimiter({ responsesPerSecond: 5, slip: 2, ipv4PrefixLength: 24, ipv6PrefixLength: 48 });
    expect(at48.network("2001:db8:0:100::1")).toBe(at48.network("2001:db8:0:ffff::1"));
    expect(at48.network("2001:db8:1::1")).not.toBe(at48.network("2001:db8::1"));
  });

  it("reads an IPv6 address's 16 bytes from any spelling and rejects what is not one", () => {
    const hex = (a: string) => {
      const bytes = parseIpv6(a, new Uint8Array(16));
      return bytes && Buffer.from(bytes).toString("hex");
    };
    expect(hex("::")).toBe("0".repeat(32));
    expect(hex("1:2:3:4:5:6:1.2.3.4")).toBe("00010002000300040005000601020304");
    expect(hex("ABCD::EF01")).toBe("abcd000000000000000000000000ef01");
    expect(hex("1:2:3:4:5:6:7::")).toBe("00010002000300040005000600070000");
    for (const bad of ["1:2:3:4:5:6:7:8:9", "1::2::3", ":1", "1:", "12345::", "::1.2.3", "g::", "1:2:3:4:5:6:7:8::"]) expect(hex(bad)).toBeUndefined();
  });

  it("limits one IPv6 client however it spells its address", () => {
    const now = 0;
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 2, slip: 0, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }, () => now);
    const spellings = ["2001:db8::1", "2001:db8:0:0::1", "2001:db8:0:0:0:0:0:1", "2001:db8:0:12::1"];
    expect(spellings.map((a) => rrl.decide(a, "edge|A"))).toEqual(["send", "send", "drop", "drop"]);
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

describe("response rate limiter table", () => {
  it("stays within maxEntries: full buckets are swept, and a flood from many networks starts the table over", () => {
    let now = 0;
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 2, slip: 0, ipv4PrefixLength: 24, maxEntries: 3 }, () => now);
    expect(rrl.decide("192.0.1.1", "a|A")).toBe("send");
    expect(rrl.decide("192.0.1.1", "a|A")).toBe("send");
    expect(rrl.decide("192.0.2.1", "a|A")).toBe("send");
    expect(rrl.decide("192.0.2.1", "b|A")).toBe("send");
    expect(rrl.size).toBe(3);
    // 600 ms later 192.0.1.0/24's bucket for a|A holds 1.2 of 2 tokens: it survives the sweep
    // the fourth network triggers, while the two others have refilled and go.
    now += 600;
    expect(rrl.decide("192.0.3.1", "a|A")).toBe("send");
    expect(rrl.size).toBe(2);
    // The survivor kept its state: one more answer, then limited (a new bucket would allow two).
    expect([rrl.decide("192.0.1.1", "a|A"), rrl.decide("192.0.1.1", "a|A")]).toEqual(["send", "drop"]);
    // A flood of new networks never grows the table past the bound.
    for (let i = 0; i < 50; i++) {
      rrl.decide(`10.0.${i}.1`, "a|A");
      rrl.decide(`10.0.${i}.1`, "a|A");
      rrl.decide(`10.0.${i}.1`, "a|A");
      expect(rrl.size).toBeLessThanOrEqual(3);
    }
  });
});
