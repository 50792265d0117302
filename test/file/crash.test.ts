/**
 * kill -9 of the real file server process during SFTP uploads: afterwards the target holds
 * its old content byte for byte (or does not exist), never a partial file, tmp/ is empty,
 * and uploads work again (the scenario is shared with FTP: ./kill.ts).
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, describe, it } from "vitest";
import { expectNoPartialFileAfterKill } from "./kill";
import { haveTools, sftpBatch } from "./support";

const enabled = haveTools("sftp", "sshpass");
const PORTS = { sftp: 47222, mgmt: 47200 };

describe.skipIf(!enabled)("file uploads under kill -9", () => {
  let child: ChildProcess | undefined;
  afterAll(() => void child?.kill("SIGKILL"));

  it("leaves no partial file when the server is killed mid-upload", async () => {
    await expectNoPartialFileAfterKill({
      env: { SP_FILE_SFTP_PORT: String(PORTS.sftp) },
      mgmtPort: PORTS.mgmt,
      // Throttled with sftp's own -l (16 Mbit/s: 32 MiB take ~16 s).
      upload: (remote, local, throttled) => sftpBatch(PORTS.sftp, "alice", [`put ${local} ${remote}`], undefined, throttled ? 16_384 : undefined),
      onChild: (c) => (child = c),
    });
  }, 180_000);
});
