/**
 * `--timeout` bounds each whole response, not each read: a server that
 * trickles a response one byte at a time is cut off once the response's
 * deadline passes, however steady the trickle.
 */

import assert from "node:assert/strict";
import { CLIENT_ID_SIZE, encodeResponse, ResponseCode } from "../protocol/mod.ts";
import { ExitCode } from "../client/client_error.ts";
import { startFakeServer } from "./support/fake_server.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { delay } from "./support/reliability.ts";

Deno.test("a response trickled one byte at a time is cut off at the response's deadline", async () => {
  const response = encodeResponse({
    code: ResponseCode.Registered,
    clientId: new Uint8Array(CLIENT_ID_SIZE).fill(1),
  });
  let trickled = 0;
  const server = startFakeServer(async (peer) => {
    await peer.read(); // 825
    // One byte every 300 ms: each read makes progress well within the 1 s
    // timeout, but the whole 23-byte response would take 6.9 s.
    for (const byte of response) {
      await peer.send(new Uint8Array([byte]));
      trickled++;
      await delay(300);
    }
  });
  const dir = await Deno.makeTempDir({ prefix: "client-deadline-" });
  try {
    await writeTransferInfo(dir, server.port, "Patient", "f.bin", patternBytes(10));
    const run = await runClient(["--dir", dir, "--timeout", "1000", "--retries", "0"]);
    assert.equal(run.code, ExitCode.Network, run.stderr);
    assert.match(
      run.stderr,
      /client: Cannot read the response of 127\.0\.0\.1:\d+: the server did not complete its response within 1 s\. /,
    );
    await server.close();
    assert.ok(trickled < response.length, `the client waited for all ${trickled} bytes`);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
