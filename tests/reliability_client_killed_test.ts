/**
 * A real client process killed (SIGKILL) in the middle of an upload on the
 * plain port: the server notices at once, frees the connection, removes the partial file,
 * keeps nothing under the final name, and serves the same client afterwards.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { LogRecord } from "@logtape/logtape";
import { captureServerLogs } from "./support/log_capture.ts";
import { CLIENT_MAIN, runClient, writeTransferInfo } from "./support/client_process.ts";
import { CLIENT_PERMISSION_FLAGS } from "../scripts/permissions.ts";
import { listFiles, sizeOf, temporaryFiles, waitUntil } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

const SIZE = 400 * 1000 * 1000;

Deno.test("reliability: a client killed mid-upload frees its connection and its partial file", async () => {
  await using logs = await captureServerLogs("info");
  const clientDir = await Deno.makeTempDir({ prefix: "reliability_killed_client_" });
  try {
    await withServer(async ({ port, dir }) => {
      // A sparse file: big enough to be caught mid-upload, cheap to make.
      await writeTransferInfo(clientDir, port, "Killed Midway", "big.bin");
      await Deno.writeFile(join(clientDir, "big.bin"), new Uint8Array(0));
      await Deno.truncate(join(clientDir, "big.bin"), SIZE);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...CLIENT_PERMISSION_FLAGS, CLIENT_MAIN, "--dir", clientDir, "--no-wait"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await waitUntil("a partial file of a few megabytes", async () => {
          const partial = await temporaryFiles(dir);
          return partial.length === 1 && await sizeOf(join(dir, partial[0]!)) > 4_000_000;
        });
      } finally {
        child.kill("SIGKILL");
        assert.equal((await child.status).signal, "SIGKILL");
      }

      const closed = (record: LogRecord) =>
        record.rawMessage === "Closed: {reason}" &&
        record.properties.connection === 1;
      await waitUntil("the server to free the connection", () => logs.records.some(closed));
      await waitUntil(
        "the partial file to be removed",
        async () => (await temporaryFiles(dir)).length === 0,
      );
      assert.deepEqual(await listFiles(join(dir, "received_files")), []);

      // The same client, run again to the end, is served.
      await Deno.truncate(join(clientDir, "big.bin"), 1_000_000);
      const again = await runClient(["--dir", clientDir, "--no-wait", "--quiet"]);
      assert.equal(again.code, 0, again.stderr);
      const stored = await listFiles(join(dir, "received_files"));
      assert.equal(stored.length, 1);
      assert.match(stored[0]!, /^[0-9a-f]{32}\/big\.bin$/);
      assert.equal(await sizeOf(join(dir, "received_files", stored[0]!)), 1_000_000);
      // The plain port: a cut upload is discarded. (The secure port keeps it
      // for a resume: tests/transfer_resume_test.ts.)
    }, { securePort: false });
  } finally {
    await Deno.remove(clientDir, { recursive: true });
  }
});
