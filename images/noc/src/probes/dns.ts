/** DNS: an SOA query for the datacenter's zone over UDP or TCP (dns-packet), expecting an authoritative NOERROR answer. */
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import * as packet from "dns-packet";
import type { Probe, ProbeContext, ProbeTarget } from "./types";

const RCODES: Record<number, string> = { 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED" };

function query(domain: string): packet.Packet {
  return { type: "query", id: Math.floor(Math.random() * 65535), flags: 0, questions: [{ type: "SOA", name: domain, class: "IN" }] };
}

function judge(q: packet.Packet, answer: packet.DecodedPacket, domain: string): { ok: boolean; degraded?: boolean; detail: string } {
  if (answer.id !== q.id) return { ok: false, degraded: true, detail: "answer id does not match the query" };
  // The low four bits of the flags are the RCODE (RFC 1035 §4.1.1); 0 is NOERROR.
  const rcode = (answer.flags ?? 0) & 0xf;
  if (rcode !== 0) return { ok: false, degraded: true, detail: `SOA ${domain}: rcode ${rcode} (${RCODES[rcode] ?? "other"})` };
  const soa = answer.answers?.find((a) => a.type === "SOA");
  const aa = (answer.flags ?? 0) & packet.AUTHORITATIVE_ANSWER;
  if (!soa || !aa) return { ok: false, degraded: true, detail: `SOA ${domain}: ${soa ? "not authoritative" : "no SOA record"}` };
  return { ok: true, detail: `SOA ${domain} serial ${(soa.data as packet.SoaData).serial}` };
}

function udp(target: ProbeTarget, ctx: ProbeContext, q: packet.Packet): Promise<packet.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(target.address.includes(":") ? "udp6" : "udp4");
    const done = () => socket.close();
    ctx.signal.addEventListener("abort", done, { once: true });
    socket.on("error", (e) => (done(), reject(e)));
    socket.on("message", (msg) => {
      ctx.signal.removeEventListener("abort", done);
      done();
      try {
        resolve(packet.decode(msg));
      } catch (e) {
        reject(e as Error);
      }
    });
    socket.send(packet.encode(q), target.port.port, target.address);
  });
}

function tcp(target: ProbeTarget, ctx: ProbeContext, q: packet.Packet): Promise<packet.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.address, port: target.port.port }, () => socket.write(packet.streamEncode(q)));
    ctx.signal.addEventListener("abort", () => socket.destroy(), { once: true });
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        socket.end();
        try {
          resolve(packet.streamDecode(buf) as packet.DecodedPacket);
        } catch (e) {
          reject(e as Error);
        }
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error("connection closed before an answer")));
  });
}

export const dnsProbe: Probe = async (target, ctx) => {
  const q = query(ctx.domain);
  const answer = await (target.port.protocol === "tcp" ? tcp : udp)(target, ctx, q);
  return judge(q, answer, ctx.domain);
};
