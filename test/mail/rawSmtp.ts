/** A minimal SMTP client for load and crash tests: one command at a time, replies parsed. */
import { connect, type Socket } from "node:net";

export class RawSmtp {
  private buffer = "";
  private waiting: ((reply: string) => void)[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      // A reply ends with a line "NNN text" (space, not "-", after the code).
      let m;
      while ((m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buffer))) {
        this.buffer = this.buffer.slice(m[0].length);
        this.waiting.shift()?.(m[0]);
      }
    });
    const fail = () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w("closed");
    };
    socket.on("close", fail);
    socket.on("error", fail);
  }

  static async open(port: number, host = "127.0.0.1"): Promise<RawSmtp> {
    const socket = connect(port, host);
    const client = new RawSmtp(socket);
    const greeting = await client.reply();
    if (!greeting.startsWith("220")) throw new Error(`bad greeting: ${greeting}`);
    await client.command("EHLO load.test");
    return client;
  }

  private reply(): Promise<string> {
    if (this.closed) return Promise.resolve("closed");
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  command(line: string): Promise<string> {
    const reply = this.reply();
    if (!this.closed) this.socket.write(`${line}\r\n`);
    return reply;
  }

  /** Sends one message; resolves with the final reply to DATA's end (e.g. "250 ..."). */
  async send(from: string, to: string, body: string): Promise<string> {
    for (const line of [`MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, "DATA"]) {
      const reply = await this.command(line);
      if (!/^(250|354)/.test(reply)) return reply;
    }
    return this.command(`${body.replace(/^\./gm, "..")}\r\n.`);
  }

  close(): void {
    this.socket.destroy();
  }
}
