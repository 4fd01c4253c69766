/**
 * Issue 3, points 2 and 9: the reference client's recorded bytes, replayed
 * against our server. Our server issues its own ids and AES keys, so each
 * frame is rebuilt: the header carries the id our server gave, and the file
 * is re-encrypted under the AES key our server sent (unwrapped with the
 * recorded private key). Everything else (names, public keys, packet headers,
 * 900's path field) is the recorded bytes.
 */

import assert from "node:assert/strict";
import { clientIdToHex, decodeRequestHeader } from "../protocol/mod.ts";
import { withServer } from "./support/test_server.ts";
import { readFixture } from "./support/golden_session.ts";
import { replay } from "./support/golden_replay.ts";

Deno.test("server: golden s1 (register, upload, 900) then s2 (reconnect, upload) replay", async () => {
  const sample = await readFixture("sample.bin");
  const block16 = await readFixture("block16.bin");
  await withServer(async ({ port, dir }) => {
    const id = await replay(port, "s1-register", "s1-priv.key", { "sample.bin": sample });
    const folder = `${dir}/received_files/${clientIdToHex(id)}`;
    assert.deepEqual(await Deno.readFile(`${folder}/sample.bin`), sample);
    // s2: the same client reconnects with the id our server gave it.
    const id2 = await replay(port, "s2-reconnect", "s1-priv.key", { "block16.bin": block16 }, id);
    assert.deepEqual(id2, id);
    assert.deepEqual(await Deno.readFile(`${folder}/block16.bin`), block16);
  });
});

Deno.test("server: golden s3 replay: 827 unknown -> 1606, 825 -> 1600, 826, upload, 900", async () => {
  const sample = await readFixture("sample.bin");
  await withServer(async ({ port, dir }) => {
    const recordedId = decodeRequestHeader(await readFixture("s3-restart.c2s")).clientId;
    const id = await replay(
      port,
      "s3-restart",
      "s3-priv.key",
      { "sample.bin": sample },
      recordedId,
    );
    assert.notDeepEqual(id, recordedId);
    assert.deepEqual(
      await Deno.readFile(`${dir}/received_files/${clientIdToHex(id)}/sample.bin`),
      sample,
    );
  });
});
