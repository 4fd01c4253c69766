/**
 * Issue 22, points 1-3: every family served end to end by the real server,
 * driven by the harness's raw client of each family and variant: register,
 * key exchange with the family's key size, uploads of 1 byte, of an exact
 * multiple of the chunk and of 3 MB (the file name field a path, stored
 * under its last component, echoed whole), CRC ok (stored, byte for byte),
 * CRC bad and resend, abort, and a reconnect (family C: its key again) on a
 * new connection; the client recorded with its family, its dialect in the log.
 */

import assert from "node:assert/strict";
import {
  cipherSizeFor,
  clientIdToHex,
  encodeFileNameField,
  generateRsaKeyPair,
  type RsaKeyPair,
} from "../protocol/mod.ts";
import {
  A_AYALA,
  B_B0RIK,
  C_AVIV,
  D_H3NGO1U,
  DIALECT_PROFILES,
  DialectClient,
  type DialectProfile,
} from "../harness/dialect_client.ts";
import { randomBytes, RawClient, signUp } from "../harness/raw_client.ts";
import { encodeDialectRequest } from "../protocol/dialects/mod.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { clientRows, clientsTable } from "../server/cli/operator.ts";
import { withServer } from "./support/test_server.ts";
import { captureServerLogs } from "./support/log_capture.ts";

/** A chunk size of the profile's upload: the packet chunk, or 1024 for a whole-file upload. */
function chunkOf(profile: DialectProfile): number {
  return profile.upload.kind === "per-packet" ? profile.upload.layout.chunkSize : 1024;
}

/** A field holding `path`, as clients that send the path of transfer.info do. */
function field(path: string): Uint8Array {
  const bytes = new Uint8Array(255);
  new TextEncoder().encodeInto(path, bytes);
  return bytes;
}

async function storedFile(dir: string, id: Uint8Array, name: string): Promise<Uint8Array> {
  return await Deno.readFile(`${dir}/received_files/${clientIdToHex(id)}/${name}`);
}

async function fullFlow(port: number, dir: string, profile: DialectProfile, keys: RsaKeyPair) {
  const name = `User ${profile.label}`;
  using client = await DialectClient.connect(port, profile);
  const id = await client.register(name);
  assert.ok(!id.includes(0), "issued ids have no zero byte");
  const aesKey = await client.sendPublicKey(id, name, keys);
  assert.equal(aesKey.length, client.aesKeySize);

  // 1 byte (its field a path), an exact multiple of the chunk, 3 MB.
  const k = chunkOf(profile);
  const uploads: Array<[string, string, number]> = [
    ["some/folder\\one.bin", "one.bin", 1],
    ["multiple.bin", "multiple.bin", 2 * k - 1],
    ["large.bin", "large.bin", 3_000_000],
  ];
  for (const [path, stored, size] of uploads) {
    const data = randomBytes(size);
    const received = await client.upload(id, aesKey, field(path), data);
    assert.equal(received.contentSize, cipherSizeFor(size), "content size = c, no trailer");
    const ack = await client.verdict(id, "crcOk", field(path));
    assert.equal(ack?.response.meaning, "ack");
    assert.deepEqual(await storedFile(dir, id, stored), data, `${profile.label}: ${stored}`);
  }

  // CRC bad: the client says so and sends the file again, then confirms.
  const retried = randomBytes(5000);
  const retryField = encodeFileNameField("retried.bin");
  await client.upload(id, aesKey, retryField, retried);
  const afterRetry = await client.verdict(id, "crcRetry", retryField);
  assert.equal(afterRetry?.response.meaning, profile.family === "C" ? "ack" : undefined);
  await client.upload(id, aesKey, retryField, retried);
  assert.equal((await client.verdict(id, "crcOk", retryField))?.response.meaning, "ack");
  assert.deepEqual(await storedFile(dir, id, "retried.bin"), retried);

  // Abort: acknowledged, nothing stored.
  const abortField = encodeFileNameField("aborted.bin");
  await client.upload(id, aesKey, abortField, randomBytes(100));
  assert.equal((await client.verdict(id, "crcAbort", abortField))?.response.meaning, "ack");
  await assert.rejects(() => storedFile(dir, id, "aborted.bin"), Deno.errors.NotFound);
  return { id, name };
}

Deno.test("dialects: every family and variant served end to end", async (t) => {
  await withServer(async ({ port, dir }) => {
    for (const profile of DIALECT_PROFILES) {
      await t.step(profile.label, async () => {
        const keys = await generateRsaKeyPair();
        const { id, name } = await fullFlow(port, dir, profile, keys);

        // Signing in again on a new connection, then an upload.
        using again = await DialectClient.connect(port, profile);
        const key2 = await again.reconnect(id, name, keys);
        const data = randomBytes(777);
        const fieldAgain = encodeFileNameField("again.bin");
        await again.upload(id, key2, fieldAgain, data);
        assert.equal((await again.verdict(id, "crcOk", fieldAgain))?.response.meaning, "ack");
        assert.deepEqual(await storedFile(dir, id, "again.bin"), data);

        const registry = await SqliteRegistry.open(`${dir}/server.db`);
        try {
          assert.equal((await registry.clientByName(name))?.dialect, profile.family);
          // server clients shows it.
          const row = (await clientRows(registry)).find((r) => r.name === name);
          assert.equal(row?.dialect, profile.family);
          assert.match(
            clientsTable([row!]),
            new RegExp(`${row!.id}\\s+${profile.family}\\s`),
          );
        } finally {
          await registry.close();
        }
      });
    }
  });
});

Deno.test("dialects: the log names each connection's dialect, B told from D by the repeat", async () => {
  await using logs = await captureServerLogs("info");
  await withServer(async ({ port }) => {
    for (const profile of [B_B0RIK, C_AVIV, D_H3NGO1U, A_AYALA]) {
      const keys = await generateRsaKeyPair();
      using client = await DialectClient.connect(port, profile);
      const name = `Logged ${profile.label}`;
      const id = await client.register(name);
      const aesKey = await client.sendPublicKey(id, name, keys);
      const field = encodeFileNameField("logged.bin");
      await client.upload(id, aesKey, field, randomBytes(10));
    }
  });
  const lines = logs.records.map((record) => record.message.join(""));
  const has = (pattern: RegExp) => assert.ok(lines.some((l) => pattern.test(l)), String(pattern));
  has(/^Dialect: family B \(request 1025 repeated after an answer of family D\)$/);
  has(/^Dialect: family D \(request 1026 after an answer of family D\)$/);
  has(/^Dialect: family C \(request 1100\)$/);
  has(/^Dialect: family A, one 828 per packet \(an 828 that carries its packet\)$/);
  has(/^Registered Logged B as [0-9a-f]{32} in family B$/);
});

Deno.test("dialects: a B or D client the server does not know registers again with the reserved id", async (t) => {
  await withServer(async ({ port }) => {
    for (const profile of [B_B0RIK, D_H3NGO1U]) {
      await t.step(profile.label, async () => {
        const keys = await generateRsaKeyPair();
        const name = `Forgotten ${profile.family}`;
        const oldId = new Uint8Array(16).fill(0x5a);
        using client = await DialectClient.connect(port, profile);
        // Its reconnect is refused with an id reserved on this connection, the same when repeated.
        const reconnect = encodeDialectRequest(profile.family, oldId, {
          meaning: "reconnect",
          name,
        });
        const denied = await client.exchange(reconnect, ["reconnectDenied"]);
        const reserved = (denied.response as { clientId: Uint8Array }).clientId;
        assert.notDeepEqual(reserved, oldId);
        assert.ok(!reserved.includes(0));
        // It registers on the same connection and gets that id.
        const id = await client.register(name);
        assert.deepEqual(id, reserved);
        const aesKey = await client.sendPublicKey(id, name, keys);
        const field = encodeFileNameField("back.bin");
        await client.upload(id, aesKey, field, randomBytes(100));
        assert.equal((await client.verdict(id, "crcOk", field))?.response.meaning, "ack");
      });
    }
  });
});

Deno.test("dialects: family A per packet gets a repeated CRC ok acknowledged again; the reference does not", async () => {
  await withServer(async ({ port, dir }) => {
    const keys = await generateRsaKeyPair();
    using client = await DialectClient.connect(port, A_AYALA);
    const id = await client.register("Repeater");
    const aesKey = await client.sendPublicKey(id, "Repeater", keys);
    const field = encodeFileNameField("once.bin");
    const data = randomBytes(5000);
    await client.upload(id, aesKey, field, data);
    for (let send = 1; send <= 3; send++) {
      const answer = await client.verdict(id, "crcOk", field);
      assert.equal(answer?.response.meaning, "ack", `send ${send}`);
      assert.deepEqual((answer?.response as { clientId: Uint8Array }).clientId, id);
    }
    assert.deepEqual(await storedFile(dir, id, "once.bin"), data);
    // Another verdict than the one acknowledged is refused.
    assert.equal((await client.verdict(id, "crcAbort", field))?.response.meaning, "generalError");

    // A reference connection's repeated 900 is refused, as it always was.
    using raw = await RawClient.connect(port);
    const me = await signUp(raw, "Reference Repeater");
    await raw.upload(me.clientId, me.aesKey, "r.bin", new Uint8Array(10));
    await raw.request(me.clientId, { code: 900, fileName: "r.bin" });
    await raw.expect(1604);
    await raw.request(me.clientId, { code: 900, fileName: "r.bin" });
    await raw.expectError();
  });
});

Deno.test("dialects: a family D upload past the u16 packet counter's wrap (65 626 packets of 1024 bytes)", async () => {
  await withServer(async ({ port, dir }) => {
    const keys = await generateRsaKeyPair();
    using client = await DialectClient.connect(port, D_H3NGO1U);
    const id = await client.register("Wrapper");
    const aesKey = await client.sendPublicKey(id, "Wrapper", keys);
    const size = 67_200_000;
    const field = encodeFileNameField("wrap.bin");
    const sum = await client.streamPerPacketUpload(id, aesKey, field, size);
    const answer = await client.readAnswer();
    assert.equal(answer.response.meaning, "fileReceived");
    assert.equal((answer.response as { cksum: number }).cksum, sum);
    assert.equal((answer.response as { contentSize: number }).contentSize, cipherSizeFor(size));
    assert.equal((await client.verdict(id, "crcOk", field))?.response.meaning, "ack");
    const stored = await Deno.stat(`${dir}/received_files/${clientIdToHex(id)}/wrap.bin`);
    assert.equal(stored.size, size);
  });
});
