/**
 * kill -9 of the real file server process while curl uploads over FTPS: afterwards the
 * overwritten file holds its old content byte for byte, the new file does not exist, tmp/ is
 * empty after the restart, and uploads work again (the scenario is shared with SFTP:
 * ./kill.ts). Ports 47340 (FTP), 47341 (SFTP), 47342 (management), passive 47343-47346.
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, describe, it } from "vitest";
import { makeCert } from "../mail/support";
import { curlFtps, haveTools } from "./ftp-support";
import { expectNoPartialFileAfterKill } from "./kill";

const enabled = haveTools("curl", "openssl");
const PORTS = { ftp: 47340, sftp: 47341, mgmt: 47342 };

describe.skipIf(!enabled)("FTP uploads under kill -9", () => {
  let child: ChildProcess | undefined;
  afterAll(() => void child?.kill("SIGKILL"));

  it("leaves no partial file when the server is killed mid-upload", async () => {
    const { cert, key } = await makeCert("file.test.example");
    await expectNoPartialFileAfterKill({
      env: {
        SP_FILE_SFTP_PORT: String(PORTS.sftp),
        SP_FILE_FTP_PORT: String(PORTS.ftp),
        SP_FILE_FTP_PASSIVE_PORTS: "47343-47346",
        SP_TLS_CERT: cert,
        SP_TLS_KEY: key,
      },
      mgmtPort: PORTS.mgmt,
      upload: (remote, local, throttled) => curlFtps(PORTS.ftp, "alice", remote, [...(throttled ? ["--limit-rate", "2M"] : []), "-T", local]),
      onChild: (c) => (child = c),
    });
  }, 180_000);
});
