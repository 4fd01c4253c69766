/**
 * Issue 11, §2 "Disk filled through the log": requests the server rejects
 * used to write 5.4 bytes of `server.log` per byte sent, and a client of
 * another dialect resent a rejected request 455 times in 10 s. Now a
 * connection is closed after {@linkcode MAX_REJECTIONS} rejections, only the
 * first is logged in full, and the log grows by less than the attacker sends.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeRequestHeader, RequestCode, ResponseCode, ZERO_CLIENT_ID } from "../protocol/mod.ts";
import { LOG_FILE } from "../server/log/logging.ts";
import { LOGGED_REJECTIONS } from "../server/session/connection.ts";
import { MAX_REJECTIONS } from "../server/session/end_reason.ts";
import { captureServerLogs } from "./support/log_capture.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { listNames, sizeOf } from "./support/reliability.ts";
import { ServerProcess } from "./support/server_process.ts";
import { withServer } from "./support/test_server.ts";

/**
 * Sends `frame` again after every answer until the server closes the
 * connection; returns how many 1607s came back and the bytes sent.
 */
async function resendUntilClosed(
  client: RawClient,
  frame: Uint8Array,
): Promise<{ rejections: number; bytes: number }> {
  let rejections = 0;
  let bytes = 0;
  for (let i = 0; i < 10 * MAX_REJECTIONS; i++) {
    try {
      await client.send(frame);
    } catch {
      break; // closed
    }
    bytes += frame.length;
    const answer = await client.readResponseOrEnd();
    if (answer === null) break;
    assert.equal(answer.code, ResponseCode.GeneralError);
    rejections++;
  }
  return { rejections, bytes };
}

Deno.test("reliability: a client resending a rejected request in a loop is cut off, its rejections logged as one count", async () => {
  await using logs = await captureServerLogs("warning");
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Other Dialect");
    // A 900 with no upload awaiting a verdict: rejected every time.
    const frame = encodeRequestHeader(me.clientId, RequestCode.CrcOk, 255);
    const { rejections } = await resendUntilClosed(
      client,
      new Uint8Array([...frame, ...new Uint8Array(255).fill(0x61)]),
    );
    assert.equal(rejections, MAX_REJECTIONS);
    await client.readEnd();
  });
  const lines = logs.records.map((record) => String(record.rawMessage));
  assert.equal(
    lines.filter((line) => line.startsWith("Rejected request")).length,
    LOGGED_REJECTIONS,
  );
  const more = logs.records.find((record) =>
    record.rawMessage === "{count} more rejections from {peer}"
  );
  assert.equal(more?.properties.count, MAX_REJECTIONS - LOGGED_REJECTIONS);
});

Deno.test("reliability: N bytes of unknown-code requests grow server.log by less than N bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "reliability_log_flood_" });
  const server = await ServerProcess.start(dir, ["--port", "0", "--host", "127.0.0.1"]);
  let sent = 0;
  try {
    const unknown = encodeRequestHeader(ZERO_CLIENT_ID, 9999, 0);
    for (let connection = 0; connection < 40; connection++) {
      using client = await RawClient.connect(server.port);
      const { rejections, bytes } = await resendUntilClosed(client, unknown);
      assert.equal(rejections, MAX_REJECTIONS);
      sent += bytes;
    }
  } finally {
    const status = await server.stop();
    assert.equal(status.code, 0, server.stderr.slice(-2000));
  }
  try {
    let logged = 0;
    for (const name of await listNames(dir)) {
      if (name.startsWith(LOG_FILE)) logged += await sizeOf(join(dir, name));
    }
    console.log(`attacker sent ${sent} bytes; server.log grew to ${logged} bytes`);
    assert.ok(logged < sent, `the log grew by ${logged} bytes for ${sent} bytes sent`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
