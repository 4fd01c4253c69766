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
import { buildPackets, RawClient, signUp } from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { listFiles } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

Deno.test("reliability: a 100-byte name registers, a 101-byte one is refused; a 255-byte file name is kept", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const long = "n".repeat(100);
    const me = await signUp(client, long);
    const fileName = "f".repeat(251) + ".bin"; // 255 bytes: the whole field, no NUL
    await client.upload(me.clientId, me.aesKey, fileName, new Uint8Array([1, 2, 3]));
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName });
    await client.expect(ResponseCode.Ack);
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

Deno.test("reliability: an impostor cannot store an empty file under another client's name", async () => {
  await withServer(async ({ port, dir }) => {
    const victim = await victimWithFile(port);
    using attacker = await RawClient.connect(port);
    await attacker.request(victim.id, { code: RequestCode.Reconnect, name: "Victim" });
    await attacker.expect(ResponseCode.ReconnectApproved);
    // An empty file's cksum is a constant (4294967295), so any 16 bytes under that trailer
    // match it. Only the padding gives them away: without the key, the one block does not
    // decrypt to the full pad block an empty file has.
    const content = new Uint8Array(16 + CKSUM_TRAILER_SIZE);
    new DataView(content.buffer).setUint32(16, 0xffff_ffff, true);
    await attacker.sendHeader(victim.id, RequestCode.SendFile, 0);
    await attacker.send(concat(buildPackets(content, 0, encodeFileNameField("report.bin"))));
    const received = await attacker.expect(ResponseCode.FileReceived);
    // Not kept: the 1603 carries the trailer's complement (issue 11), not our cksum.
    assert.equal(received.response.code === 1603 && received.response.cksum, 0);
    await attacker.request(victim.id, { code: RequestCode.CrcOk, fileName: "report.bin" });
    await attacker.expectError();
    const folder = `${dir}/received_files/${clientIdToHex(victim.id)}`;
    assert.deepEqual(await Deno.readFile(`${folder}/report.bin`), victim.data);
  });
});

Deno.test("reliability: the 1603 of an upload not kept tells nothing of the decryption; echoing it is not kept", async () => {
  await withServer(async ({ port, dir }) => {
    // Issue 11 replaced the echo rule: a 1603 for an upload not kept carries the
    // complement of the trailer, so the sender learns nothing it did not send, and
    // echoing that value back as a trailer is still a mismatch.
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Echo");
    const data = new TextEncoder().encode("content whose trailer was wrong");
    const first = await client.upload(me.clientId, me.aesKey, "echo.bin", data, { trailer: 1 });
    assert.equal(first.cksum, (~1) >>> 0);
    await client.request(me.clientId, { code: RequestCode.CrcRetry, fileName: "echo.bin" });
    const second = await client.upload(me.clientId, me.aesKey, "echo.bin", data, {
      trailer: first.cksum,
    });
    assert.equal(second.cksum, 1);
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "echo.bin" });
    assert.match(await client.expectError(), /not kept/);
    assert.deepEqual(await listFiles(`${dir}/received_files`), []);

    // A new key exchange starts afresh: the same cksum, now the client's own, is kept.
    using again = await RawClient.connect(port);
    const aesKey = await again.reconnect(me.clientId, me.name, me.keys.privateKey);
    await again.upload(me.clientId, aesKey, "echo.bin", data);
    await again.request(me.clientId, { code: RequestCode.CrcOk, fileName: "echo.bin" });
    await again.expect(ResponseCode.Ack);
    assert.deepEqual(
      await Deno.readFile(`${dir}/received_files/${clientIdToHex(me.clientId)}/echo.bin`),
      data,
    );
  });
});
