/**
 * The `limits@openssh.com` SFTP extension, which ssh2's server does not offer: our VERSION reply
 * names it, and the client's `limits@openssh.com` request is answered with our bounds. Without
 * it OpenSSH's sftp reads and writes 32 KiB a request against us and 255 KiB against OpenSSH's
 * own server: eight times the requests, each a READ to decrypt and parse, a handler to run and
 * a reply to frame (bench/file/README.md).
 *
 * ssh2 1.x keeps both the VERSION reply and its send queue private, so this works on the SFTP
 * channel object's internals (`_protocol`, `outgoing`, `_buffer`, `_version`) and keeps ssh2's
 * own accounting of the client's SSH window exact: the extra bytes of the VERSION reply are
 * taken from the window too. Where that cannot be done safely (a window or channel packet too
 * small for them), the extension is simply not offered.
 */
import ssh2 from "ssh2";
import type { SFTPWrapper } from "ssh2";
import { internals, sendPacket, type ChannelInternals } from "./sftpWire";

const { STATUS_CODE } = ssh2.utils.sftp;

export interface SftpLimits {
  /** Largest SFTP packet we accept (ssh2 refuses longer ones: 256 KiB). */
  readonly packetBytes: number;
  readonly readBytes: number;
  readonly writeBytes: number;
  readonly openHandles: number;
}

const NAME = "limits@openssh.com";
const VERSION = 2;
const EXTENDED_REPLY = 201;

/** VERSION 3 with one extension, `limits@openssh.com` "1" (OpenSSH's sftp-server sends the same). */
function versionWithLimits(): Buffer {
  const name = Buffer.from(NAME);
  const buf = Buffer.alloc(4 + 1 + 4 + 4 + name.length + 4 + 1);
  buf.writeUInt32BE(buf.length - 4, 0);
  buf[4] = VERSION;
  buf.writeUInt32BE(3, 5);
  buf.writeUInt32BE(name.length, 9);
  name.copy(buf, 13);
  buf.writeUInt32BE(1, 13 + name.length);
  buf.write("1", 17 + name.length);
  return buf;
}

const VERSION_WITH_LIMITS = versionWithLimits();

/** Whether `payload` is ssh2's plain VERSION 3 reply (9 bytes, no extensions). */
function isPlainVersion(payload: Buffer): boolean {
  return payload.length === 9 && payload.readUInt32BE(0) === 5 && payload[4] === VERSION && payload.readUInt32BE(5) === 3;
}

/**
 * Must be called right after the SFTP channel is accepted, before the client's INIT arrives:
 * while ssh2 answers INIT, its plain VERSION reply is swapped for one that names the extension.
 */
export function offerLimits(sftp: SFTPWrapper, limits: SftpLimits): void {
  const channel = internals(sftp);
  const protocol = channel._protocol;
  channel.push = (data) => {
    if (channel._version !== -1) {
      // INIT has been answered: ssh2's own push from now on.
      delete (channel as Partial<ChannelInternals>).push;
      return channel.push(data);
    }
    const channelData = protocol.channelData;
    protocol.channelData = (id, payload) => {
      const extra = VERSION_WITH_LIMITS.length - payload.length;
      const out = channel.outgoing;
      if (id === out.id && isPlainVersion(payload) && out.window >= extra && out.packetSize >= VERSION_WITH_LIMITS.length) {
        out.window -= extra; // ssh2 took the plain reply's 9 bytes already
        return channelData.call(protocol, id, VERSION_WITH_LIMITS);
      }
      return channelData.call(protocol, id, payload);
    };
    try {
      return Object.getPrototypeOf(channel).push.call(channel, data);
    } finally {
      protocol.channelData = channelData;
    }
  };
  sftp.on("EXTENDED", (reqId, name) => {
    if (name !== NAME) return sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED);
    sendPacket(channel, limitsReply(reqId, limits));
  });
}

/** EXTENDED_REPLY: uint32 id, uint64 max packet, max read, max write, max open handles. */
function limitsReply(reqId: number, limits: SftpLimits): Buffer {
  const buf = Buffer.alloc(4 + 1 + 4 + 4 * 8);
  buf.writeUInt32BE(buf.length - 4, 0);
  buf[4] = EXTENDED_REPLY;
  buf.writeUInt32BE(reqId, 5);
  const values = [limits.packetBytes, limits.readBytes, limits.writeBytes, limits.openHandles];
  values.forEach((v, i) => buf.writeBigUInt64BE(BigInt(v), 9 + i * 8));
  return buf;
}
