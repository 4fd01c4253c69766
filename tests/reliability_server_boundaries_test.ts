/**
 * Boundaries between clients: names at the limits, and a client that knows
 * another's name and id (both travel in clear) but not its key. (Bad file
 * names, traversal and device names, the size limit and unknown ids are in
 * server_hostile_input_test.ts, server_upload_test.ts and
 * server_protocol_test.ts.)
 */

import assert from "node:assert/strict";
import {
  CKSUM_TRAILER_SIZE,
  clientIdToHex,
  encodeFileNameField,
  encodeRequestHeader,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { buildPackets, concat, RawClient, signUp } from "./support/raw_client.ts";
import { listFiles } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

Deno.test("reliability: a 100-byte name registers, a 101-byte one is refused; a 255-byte file name is kept", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const long = "n".repeat(100);
    const me = await signUp(client, long);
    const fileName = "f".repeat(251) + ".bin"; // 255 bytes: the whole field, no NUL
    await client.upload(me.clientId, me.aesKey, fileName, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await listFiles(dir).then((files) => files.filter((f) => f.includes("/"))), [
      `received_files/${clientIdToHex(me.clientId)}/${fileName}`,
    ]);
    using other = await RawClient.connect(port);
    const field = new Uint8Array(255).fill(0x6e, 0, 101);
    await other.send(
      concat([encodeRequestHeader(ZERO_CLIENT_ID, RequestCode.Register, 255), field]),
    );
    assert.match(await other.expectError(), /101 bytes, more than 100/);
  });
});

/** Victim registers and keeps `report.bin`; returns its id, name and bytes. */
async function victimWithFile(port: number): Promise<{ id: Uint8Array; data: Uint8Array }> {
  using victim = await RawClient.connect(port);
  const me = await signUp(victim, "Victim");
  const data = new TextEncoder().encode("the victim's report");
  await victim.upload(me.clientId, me.aesKey, "report.bin", data);
  await victim.request(me.clientId, { code: RequestCode.CrcOk, fileName: "report.bin" });
  await victim.expect(ResponseCode.Ack);
  return { id: me.clientId, data };
}

Deno.test("reliability: another client's name and id without its key cannot replace its file", async () => {
  await withServer(async ({ port, dir }) => {
    const victim = await victimWithFile(port);
    using attacker = await RawClient.connect(port);
    // 827 proves nothing: the server approves, but wraps the key for the victim's public key.
    await attacker.request(victim.id, { code: RequestCode.Reconnect, name: "Victim" });
    await attacker.expect(ResponseCode.ReconnectApproved);
    // Without the AES key the attacker encrypts under a key of its own: the cksum cannot match.
    const forged = new TextEncoder().encode("forged content");
    const received = await attacker.upload(
      victim.id,
      crypto.getRandomValues(new Uint8Array(32)),
      "report.bin",
      forged,
    );
    assert.notEqual(received.cksum, 0, "decryption ran");
    await attacker.request(victim.id, { code: RequestCode.CrcOk, fileName: "report.bin" });
    await attacker.expectError(); // not kept
    const folder = `${dir}/received_files/${clientIdToHex(victim.id)}`;
    assert.deepEqual(await Deno.readFile(`${folder}/report.bin`), victim.data);
    assert.deepEqual(await listFiles(folder), ["report.bin"]);
  });
});

Deno.test({
  name:
    "reliability: KNOWN WEAKNESS: an impostor replaces a file with an empty one, or replays a reported cksum",
  // Kept as a statement of the goal: it fails today, as the protocol allows it (see the report
  // of issue 7). 827 needs only the name and the id, which travel in clear; an empty file's
  // cksum is a constant (4294967295) and the server does not check the padding, so any 16
  // bytes under that trailer are kept. Likewise the 1603 of a mismatch tells the impostor the
  // cksum of what its ciphertext decrypts to: sending the same ciphertext again with that
  // trailer (after 901) is kept.
  ignore: true,
  async fn() {
    await withServer(async ({ port, dir }) => {
      const victim = await victimWithFile(port);
      using attacker = await RawClient.connect(port);
      await attacker.request(victim.id, { code: RequestCode.Reconnect, name: "Victim" });
      await attacker.expect(ResponseCode.ReconnectApproved);
      const content = new Uint8Array(16 + CKSUM_TRAILER_SIZE);
      new DataView(content.buffer).setUint32(16, 0xffff_ffff, true);
      await attacker.sendHeader(victim.id, RequestCode.SendFile, 0);
      await attacker.send(concat(buildPackets(content, 0, encodeFileNameField("report.bin"))));
      await attacker.readResponse();
      const folder = `${dir}/received_files/${clientIdToHex(victim.id)}`;
      assert.deepEqual(await Deno.readFile(`${folder}/report.bin`), victim.data);
    });
  },
});
