/** The tick's pre-framed snapshots: frames of every length class decode with ws's own receiver. */
import type { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import * as ws from "ws";
import { textFrame } from "../../images/game/src/protocol";

describe("textFrame", () => {
  it("frames text of 7-bit, 16-bit and 64-bit lengths as ws's receiver reads them", async () => {
    const sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000];
    // ws exports its frame parser as Receiver; @types/ws does not declare it.
    const Receiver = (ws as unknown as { Receiver: new (options: object) => Writable }).Receiver;
    const receiver = new Receiver({ isServer: false, maxPayload: 0 });
    const got: { text: string; binary: boolean }[] = [];
    receiver.on("message", (data: Buffer, isBinary: boolean) => got.push({ text: data.toString(), binary: isBinary }));
    const texts = sizes.map((n, i) => String.fromCharCode(97 + i).repeat(n));
    for (const t of texts) receiver.write(textFrame(Buffer.from(t)));
    await new Promise<void>((resolve, reject) => receiver.end(() => resolve()).on("error", reject));
    expect(got.map((g) => g.text.length)).toEqual(sizes);
    expect(got.every((g, i) => !g.binary && g.text === texts[i])).toBe(true);
    expect(textFrame(Buffer.from("hi"))).toEqual(Buffer.from([0x81, 2, 0x68, 0x69]));
  });
});
