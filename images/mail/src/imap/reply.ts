/** The tagged reply an IMAP command ends with. */

export type Reply = { status: "OK" | "NO" | "BAD"; text: string };
export const ok = (text: string): Reply => ({ status: "OK", text });
export const no = (text: string): Reply => ({ status: "NO", text });
