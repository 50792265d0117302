/** `tsx bench/fuzz/imap.fuzz.ts <count>`: the long IMAP fuzz run against the real mail server (mailFuzz.ts). */
import { main } from "./mailFuzz";

main("imap", 2);
