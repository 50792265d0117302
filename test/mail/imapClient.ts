/** A raw IMAP client over TLS for tests that check every reply (curl shows only a few). */
import { connect, type TLSSocket } from "node:tls";
import { expect } from "vitest";

/** One IMAP connection: sends tagged commands and collects the lines up to their tagged replies. */
export class Imap {
  private buffer = "";
  private readonly waiters: { until: (line: string) => boolean; lines: string[]; resolve: (lines: string[]) => void }[] = [];
  private tag = 0;

  private constructor(private readonly socket: TLSSocket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      for (let eol = this.buffer.indexOf("\r\n"); eol >= 0; eol = this.buffer.indexOf("\r\n")) {
        const line = this.buffer.slice(0, eol);
        this.buffer = this.buffer.slice(eol + 2);
        // Every waiter sees every line from when it started waiting until its own last line.
        for (const waiter of [...this.waiters]) {
          waiter.lines.push(line);
          if (!waiter.until(line)) continue;
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(waiter.lines);
        }
      }
    });
  }

  static async open(port: number): Promise<Imap> {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    const imap = new Imap(socket);
    const greeting = await imap.read((l) => l.startsWith("* OK"));
    expect(greeting.at(-1)).toMatch(/^\* OK \[CAPABILITY /);
    return imap;
  }

  /** Lines up to and including the first one `until` accepts. */
  read(until: (line: string) => boolean): Promise<string[]> {
    return new Promise((resolve) => this.waiters.push({ until, lines: [], resolve }));
  }

  /** Sends a command; resolves with its untagged lines and the tagged reply (the last line). */
  async command(text: string): Promise<string[]> {
    const tag = `t${++this.tag}`;
    const reply = this.read((l) => l.startsWith(`${tag} `));
    this.socket.write(`${tag} ${text}\r\n`);
    return (await reply).map((l) => l.replace(/^t\d+ /, "TAG "));
  }

  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}
