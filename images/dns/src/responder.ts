/**
 * One DNS message in, one (or no) message out. Transport-independent: the UDP and TCP
 * servers hand every datagram / length-prefixed message here. Malformed input never
 * throws: what cannot be parsed gets FORMERR when its header is readable and is dropped
 * otherwise; responses (QR=1) are never answered, so we cannot be turned into a loop.
 */
import * as packet from "dns-packet";
import type { Answer, Packet, Question } from "dns-packet";
import type { ZoneSet } from "./zones";

export type Transport = "udp" | "tcp";

export interface Reply {
  readonly message: Buffer;
  readonly rcode: string;
  /** For RRL: which "answer" this is (qname+qtype, or the zone for negative ones). */
  readonly rrlKey: string;
  /** A truncated, answerless form of the same reply (RRL's "slip"). */
  readonly truncated: () => Buffer;
}

const OPCODE_QUERY = 0;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODE;
/** RFC 6891: the EDNS version we speak, and the extended rcode BADVERS (16 = 1 << 4). */
const EDNS_VERSION = 0;
const BADVERS_HIGH_BITS = 1;
const MIN_UDP = 512;

export interface ResponderOptions {
  /** Largest UDP answer whatever the client offers. */
  readonly maxUdpPayload: number;
}

/** Builds the reply to `query`, or undefined when the message must be dropped. */
export function respond(query: Buffer, zones: ZoneSet, transport: Transport, options: ResponderOptions): Reply | undefined {
  if (query.length < 12) return undefined; // not even a header: nothing to answer to
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response: never answer those
  const opcode = (flags >> 11) & 0xf;
  const rd = flags & packet.RECURSION_DESIRED;

  // Counts that cannot fit in the message are rejected before decoding: dns-packet would
  // allocate and walk arrays of up to 65535 entries for them (15 ms per message), which
  // makes lying headers a cheap denial of service.
  const qd = query.readUInt16BE(4);
  const rr = query.readUInt16BE(6) + query.readUInt16BE(8) + query.readUInt16BE(10);
  if (qd * 5 + rr * 11 > query.length - 12) return errorReply(id, opcode, rd, "FORMERR", [], undefined);
  if (opcode !== OPCODE_QUERY) return errorReply(id, opcode, rd, "NOTIMP", [], undefined);

  let decoded: Packet;
  try {
    decoded = packet.decode(query);
  } catch {
    return errorReply(id, opcode, rd, "FORMERR", [], undefined);
  }
  const questions = (decoded.questions ?? []) as Question[];
  const opts = (decoded.additionals ?? []).filter((a) => a.type === "OPT");
  if (questions.length !== 1 || opts.length > 1 || (decoded.answers ?? []).length > 0) {
    return errorReply(id, opcode, rd, "FORMERR", questions.slice(0, 1), undefined);
  }
  const opt = opts[0] as (Answer & { udpPayloadSize?: number; ednsVersion?: number }) | undefined;
  const question = questions[0]!;
  if (opt && (opt.ednsVersion ?? 0) > EDNS_VERSION) {
    return errorReply(id, opcode, rd, "NOERROR", [question], ednsRecord(options.maxUdpPayload, BADVERS_HIGH_BITS), "BADVERS");
  }
  const limit = transport === "tcp" ? 65535 : opt ? Math.max(MIN_UDP, Math.min(opt.udpPayloadSize ?? MIN_UDP, options.maxUdpPayload)) : MIN_UDP;
  const edns = opt ? ednsRecord(options.maxUdpPayload, 0) : undefined;

  // Zone transfers are not offered, and classes other than IN are not ours.
  if (question.type === "AXFR" || question.type === "IXFR" || (question.class !== "IN" && question.class !== "ANY")) {
    return errorReply(id, opcode, rd, "REFUSED", [question], edns);
  }
  const result = zones.lookup(question.name, question.type);
  if (result.refused) return errorReply(id, opcode, rd, "REFUSED", [question], edns, undefined, `refused|${question.type}`);

  // ANY gets one RRset, not every one the name has (RFC 8482 §4.1): the full set made ANY
  // the classic amplification query, and no client relies on it. No glue either.
  const minimal = (question.type as string) === "ANY" && result.answers.length > 0;
  const answers = minimal ? result.answers.filter((a) => a.type === result.answers[0]!.type && a.name === result.answers[0]!.name) : result.answers;
  const additionals = minimal ? [] : result.additionals;
  const response: Packet = {
    id,
    type: "response",
    flags: rd | packet.AUTHORITATIVE_ANSWER | RCODE[result.rcode],
    questions: [question],
    answers,
    authorities: result.authorities,
    additionals: edns ? [...additionals, edns] : additionals,
  };
  const rrlKey = result.rcode === "NOERROR" && result.answers.length > 0 ? `${question.name.toLowerCase()}|${question.type}` : `${result.rcode}|${result.zone}`;
  let message = packet.encode(response);
  const truncated = () => encodeTruncated(response, edns);
  if (message.length > limit) {
    // Drop the additional glue first; if the answer still does not fit, say so (TC) and let
    // the client retry over TCP (RFC 2181 §9 / RFC 7766).
    const withoutGlue: Packet = { ...response, additionals: edns ? [edns] : [] };
    message = packet.encode(withoutGlue);
    if (message.length > limit) message = truncated();
  }
  return { message, rcode: result.rcode, rrlKey, truncated };
}

function encodeTruncated(response: Packet, edns: Answer | undefined): Buffer {
  return packet.encode({
    ...response,
    flags: (response.flags ?? 0) | packet.TRUNCATED_RESPONSE,
    answers: [],
    authorities: [],
    additionals: edns ? [edns] : [],
  });
}

function ednsRecord(udpPayloadSize: number, extendedRcode: number): Answer {
  return { type: "OPT", name: ".", udpPayloadSize, extendedRcode, ednsVersion: EDNS_VERSION, flags: 0, options: [] } as unknown as Answer;
}

function errorReply(
  id: number,
  opcode: number,
  rd: number,
  rcode: Rcode,
  questions: Question[],
  edns: Answer | undefined,
  label: string = rcode,
  rrlKey = `error|${label}`,
): Reply {
  const response: Packet = {
    id,
    type: "response",
    flags: (opcode << 11) | rd | RCODE[rcode],
    questions,
    answers: [],
    authorities: [],
    additionals: edns ? [edns] : [],
  };
  let message: Buffer;
  try {
    message = packet.encode(response);
  } catch {
    // A question we decoded but cannot re-encode (an over-long name): answer without it.
    message = packet.encode({ ...response, questions: [] });
  }
  return { message, rcode: label, rrlKey, truncated: () => message };
}
