/** `tsx bench/fuzz/smtp.fuzz.ts <count>`: the long SMTP fuzz run against the real mail server (mailFuzz.ts). */
import { main } from "./mailFuzz";

main("smtp", 1);
