/**
 * Issue 3, points 4 and 5: how an upload's bytes reach the disk: sizes at
 * the edges, the trailer split across packets, the size limit, and what is
 * left on disk when an upload fails or is cut off.
 */

import assert from "node:assert/strict";
import {
  cksum,
  clientIdToHex,
  contentSizeFor,
  encodeFileNameField,
  generateAesKey,
  PACKET_CHUNK_SIZE,
  RequestCode,
  ResponseCode,
  sha256Hex,
} from "../protocol/mod.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import {
  buildPackets,
  encryptContent,
  randomBytes,
  RawClient,
  signUp,
} from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { withServer } from "./support/test_server.ts";
import { listNames } from "./support/reliability.ts";

/** An original size whose content's last packet holds only `tail` bytes (1 to 3). */
function sizeWithLastChunk(tail: number): number {
  for (let size = 0;; size += 16) {
    if (contentSizeFor(size) % PACKET_CHUNK_SIZE === tail) return size;
  }
}

Deno.test("server: files at the size edges are stored byte for byte, their SHA-256 recorded", async () => {
  const sizes = [0, 1, 15, 16, 17, PACKET_CHUNK_SIZE - 4, PACKET_CHUNK_SIZE, 3 * PACKET_CHUNK_SIZE];
  // The 4-byte trailer split across the last two packets.
  sizes.push(sizeWithLastChunk(1), sizeWithLastChunk(2), sizeWithLastChunk(3));
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Edge User");
    for (const size of sizes) {
      const data = randomBytes(size);
      const name = `edge-${size}.bin`;
      const received = await client.upload(me.clientId, me.aesKey, name, data);
      assert.equal(received.cksum, cksum(data), `size ${size}`);
      assert.equal(received.contentSize, contentSizeFor(size));
      await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: name });
      await client.expect(ResponseCode.Ack);
      const stored = await Deno.readFile(
        `${dir}/received_files/${clientIdToHex(me.clientId)}/${name}`,
      );
      assert.deepEqual(stored, data, `size ${size}`);
    }
    // The registry holds each file's SHA-256, computed as it was staged.
    const registry = await SqliteRegistry.open(`${dir}/server.db`);
    try {
      const rows = await registry.clientFiles(me.clientId, { limit: 100 });
      assert.equal(rows.length, new Set(sizes).size);
      for (const row of rows) {
        const stored = await Deno.readFile(`${dir}/received_files/${row.location}`);
        assert.equal(row.sha256, sha256Hex(stored), row.fileName);
      }
    } finally {
      await registry.close();
    }
  });
});

Deno.test("server: content under another key gets our (different) cksum and is not kept", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Wrong Key");
    const data = randomBytes(30000);
    const received = await client.upload(me.clientId, generateAesKey(), "w.bin", data);
    assert.notEqual(received.cksum, cksum(data));
    assert.deepEqual(await listNames(`${dir}/received_files/${clientIdToHex(me.clientId)}`), []);
  });
});

Deno.test("server: a failed upload leaves an earlier file of the same name untouched", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Keeper");
    const first = new TextEncoder().encode("the good version");
    await client.upload(me.clientId, me.aesKey, "doc.txt", first);
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "doc.txt" });
    await client.expect(ResponseCode.Ack);
    const second = new TextEncoder().encode("a corrupted version");
    await client.upload(me.clientId, me.aesKey, "doc.txt", second, { trailer: 42 });
    const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
    assert.deepEqual(await listNames(folder), ["doc.txt"]);
    assert.equal(await Deno.readTextFile(`${folder}/doc.txt`), "the good version");
  });
});

Deno.test("server: a connection dropped mid-upload leaves neither the file nor a temporary file", async () => {
  await withServer(async ({ port, dir, server }) => {
    const client = await RawClient.connect(port);
    const me = await signUp(client, "Dropper");
    const data = randomBytes(200_000);
    const content = await encryptContent(me.aesKey, data);
    const packets = buildPackets(content, data.length, encodeFileNameField("cut.bin"));
    await client.sendHeader(me.clientId, RequestCode.SendFile, 0);
    const all = concat(packets);
    await client.send(all.subarray(0, all.length / 2)); // half, mid-packet
    client.close();
    await server.close(); // waits for the session to end and clean up
    assert.deepEqual(await listNames(`${dir}/received_files/${clientIdToHex(me.clientId)}`), []);
  });
});

Deno.test("server: the file size limit: at the limit accepted, one byte over refused with 1607", async () => {
  const limit = 50_000;
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Limit User");
    const atLimit = randomBytes(limit);
    const ok = await client.upload(me.clientId, me.aesKey, "at.bin", atLimit);
    assert.equal(ok.cksum, cksum(atLimit));
    // Stored once confirmed (issue 11: 900 commits the upload).
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "at.bin" });
    await client.expect(ResponseCode.Ack);

    const over = new Uint8Array(limit + 1);
    const content = await encryptContent(me.aesKey, over);
    const packets = buildPackets(content, over.length, encodeFileNameField("over.bin"));
    await client.sendHeader(me.clientId, RequestCode.SendFile, 0);
    await client.send(packets[0]!);
    assert.match(await client.expectError(), /over the limit/);
    await client.readEnd();
    const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
    assert.deepEqual(await listNames(folder), ["at.bin"]);
  }, { maxFileSize: limit });
});
