/**
 * The real program under Pulumi mocks with the customers of test/support/customers.ts: the
 * mail replica receives the customers' domains and mailboxes in its view (quota from the
 * mailbox or the plan's mailboxQuotaMb) and, as a secret, scrypt hashes of a generated
 * password per mailbox, keyed by its full address (the IMAP, POP3 and submission log-in).
 */
import { readFileSync } from "node:fs";
import { beforeAll, expect, it } from "vitest";
import { loadStackFile } from "../../components/spec/load";
import { MAIL_CREDENTIALS_PATH } from "../../contracts/paths";
import { mailViewSchema } from "../../contracts/views/mail";
import { isSecretValue, runUnderMocks, type MockRun } from "../support/pulumiMocks";
import { withCustomers } from "../support/customers";

let run: MockRun<typeof import("../../stacks/index.js")>;

beforeAll(async () => {
  run = await runUnderMocks(() => import("../../stacks/index.js"), {
    stack: "local",
    config: { ...loadStackFile("local").config, "serverpark:datacenter": withCustomers() },
  });
});

it("gives the mail replica the customers' mailboxes with their quotas, and a password hash per mailbox as a secret", () => {
  const mail = run.byType("docker:index/container:Container").find((c) => c.inputs.name === "fra1-mail-0")!;
  const uploads = mail.inputs.uploads as { file: string; content?: string; source?: string }[];
  const credentials = JSON.parse(uploads.find((u) => u.file === MAIL_CREDENTIALS_PATH)!.content!) as { users: Record<string, string> };
  expect(Object.keys(credentials.users).sort()).toEqual(["info@acme.test", "postmaster", "sales@acme.test"]);
  for (const hash of Object.values(credentials.users)) expect(hash).toMatch(/^scrypt\$/);
  expect(isSecretValue(mail.rawInputs.uploads)).toBe(true);
  const view = JSON.parse(readFileSync(uploads.find((u) => u.file.endsWith("/view.json"))!.source!, "utf8")) as { mail: unknown };
  // globex has no mailboxes, but its MX names this service: the domain is in the view, so mail
  // for any address there is refused as unknown (550), not as relaying (554).
  expect(mailViewSchema.parse(view.mail)).toEqual({
    domains: ["acme.test", "globex.test"],
    mailboxes: [
      { address: "info@acme.test", customer: "acme", quotaBytes: 256 * 1024 * 1024 },
      { address: "sales@acme.test", customer: "acme", quotaBytes: 100 * 1024 * 1024 },
    ],
  });
});
