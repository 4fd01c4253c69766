/**
 * No needless size cap (issue 20, point 4): a 1 GB file, over the 800 MB
 * default, goes to a server started with --max-file-size 1.5GB; the client's
 * only limit is what the protocol carries.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { clientIdToHex, parseMeInfo } from "../protocol/mod.ts";
import { runClient, writeTransferInfo } from "./support/client_process.ts";
import { withServer } from "./support/test_server.ts";

const SIZE = 1_000_000_000;

Deno.test("a 1 GB file arrives at a server whose limit is 1.5 GB", async () => {
  await withServer(async ({ port, dir }) => {
    const clientDir = await Deno.makeTempDir({ prefix: "client_large_file_" });
    try {
      await writeTransferInfo(clientDir, port, "Large", "big.bin");
      await Deno.writeFile(join(clientDir, "big.bin"), new Uint8Array(0));
      await Deno.truncate(join(clientDir, "big.bin"), SIZE); // sparse: quick to make
      const run = await runClient(["--dir", clientDir, "--quiet"]);
      assert.equal(run.code, 0, run.stderr);
      const { clientId } = parseMeInfo(await Deno.readTextFile(join(clientDir, "me.info")));
      const stored = join(dir, "received_files", clientIdToHex(clientId), "big.bin");
      assert.equal((await Deno.stat(stored)).size, SIZE);
      const log = await Deno.readTextFile(join(clientDir, "transfer.log"));
      assert.match(log, /the server confirmed big\.bin \(1\.0 GB, cksum \d+\)/);
    } finally {
      await Deno.remove(clientDir, { recursive: true });
    }
  }, { maxFileSize: 1_500_000_000 });
});
