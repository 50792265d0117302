/** The tagged reply an IMAP command ends with, and the one mailbox name this server has. */

export type Reply = { status: "OK" | "NO" | "BAD"; text: string };
export const ok = (text: string): Reply => ({ status: "OK", text });
export const no = (text: string): Reply => ({ status: "NO", text });

/** There is one mailbox per user, INBOX (any case). */
export function isInbox(name: string): boolean {
  return name.toUpperCase() === "INBOX";
}
