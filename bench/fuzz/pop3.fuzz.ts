/** `tsx bench/fuzz/pop3.fuzz.ts <count>`: the long POP3 fuzz run against the real mail server (mailFuzz.ts). */
import { main } from "./mailFuzz";

main("pop3", 3);
