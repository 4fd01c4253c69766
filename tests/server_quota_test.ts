/**
 * Issue 11, quotas: per-client limits on stored files and bytes. Over a
 * limit, a 1607 says so, the connection goes on, and nothing stored is
 * touched. The check is made early, at the 828's first packet, where the
 * upload reserves its declared size (so uploads at once count), and again
 * at commit.
 */

import assert from "node:assert/strict";
import { clientIdToHex, encodeFileNameField, RequestCode, ResponseCode } from "../protocol/mod.ts";
import {
  buildPackets,
  encryptContent,
  RawClient,
  signUp,
  type TestIdentity,
} from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { listNames } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";
import { parseCommandLine, UsageError } from "../server/cli/command_line.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";

const bytes = (size: number) => new Uint8Array(size).fill(0x61);

async function confirm(client: RawClient, me: TestIdentity, name: string): Promise<void> {
  await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: name });
  await client.expect(ResponseCode.Ack);
}

Deno.test("quota: over the file count or the byte limit, 1607 at the first packet, nothing stored touched", async (t) => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Quota User");
    const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
    await t.step("within the limits", async () => {
      await client.upload(me.clientId, me.aesKey, "a.bin", bytes(400));
      await confirm(client, me, "a.bin");
      await client.upload(me.clientId, me.aesKey, "b.bin", bytes(400));
      await confirm(client, me, "b.bin");
    });
    await t.step("a third file: refused, the connection goes on", async () => {
      await client.sendHeader(me.clientId, RequestCode.SendFile, 0);
      await client.send(await uploadFrames(me, "c.bin", bytes(10)));
      assert.match(await client.expectError(), /Cannot store c\.bin: .*most files allowed \(2\)/);
      assert.deepEqual(await listNames(folder), ["a.bin", "b.bin"]);
    });
    await t.step("replacing a file within the byte limit is allowed", async () => {
      await client.upload(me.clientId, me.aesKey, "a.bin", bytes(600));
      await confirm(client, me, "a.bin");
      assert.equal((await Deno.stat(`${folder}/a.bin`)).size, 600);
    });
    await t.step("replacing it past the byte limit: refused, the old file stays", async () => {
      await client.sendHeader(me.clientId, RequestCode.SendFile, 0);
      await client.send(await uploadFrames(me, "a.bin", bytes(601)));
      assert.match(await client.expectError(), /Cannot store a\.bin: .*past the 1 kB/);
      assert.equal((await Deno.stat(`${folder}/a.bin`)).size, 600);
    });
  }, { maxStoredFiles: 2, maxStoredBytes: 1000 });
});

Deno.test("quota: two uploads at once: the first one's reservation counts, the second is refused at its first packet", async () => {
  await withServer(async ({ port, dir }) => {
    using first = await RawClient.connect(port);
    const me = await signUp(first, "Two At Once");
    using second = await RawClient.connect(port);
    const key = await second.reconnect(me.clientId, me.name, me.keys.privateKey);
    await first.upload(me.clientId, me.aesKey, "one.bin", bytes(10));
    await second.sendHeader(me.clientId, RequestCode.SendFile, 0);
    await second.send(await uploadFrames({ ...me, aesKey: key }, "two.bin", bytes(10)));
    assert.match(await second.expectError(), /most files allowed \(1\)/);
    await confirm(first, me, "one.bin");
    const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
    assert.deepEqual(await listNames(folder), ["one.bin"]);
    const registry = await SqliteRegistry.open(`${dir}/server.db`);
    try {
      assert.deepEqual(await registry.usage(me.clientId), { files: 1, bytes: 10, partialBytes: 0 });
      const [row] = await registry.listClients();
      assert.equal(row?.stagedBytes, 0, "the committed upload's reservation is released");
    } finally {
      await registry.close();
    }
  }, { maxStoredFiles: 1 });
});

/** The packets of an upload (after its 828 header). */
async function uploadFrames(me: TestIdentity, name: string, data: Uint8Array) {
  const content = await encryptContent(me.aesKey, data);
  return concat(buildPackets(content, data.length, encodeFileNameField(name)));
}

Deno.test("quota: --max-files and --max-stored set the limits; bad values are usage errors", () => {
  const command = parseCommandLine(["--max-files", "5", "--max-stored", "1GB"]);
  assert.ok(command.kind === "serve");
  assert.equal(command.maxStoredFiles, 5);
  assert.equal(command.maxStoredBytes, 1e9);
  assert.throws(() => parseCommandLine(["--max-files", "0"]), UsageError);
  assert.throws(() => parseCommandLine(["--max-stored", "lots"]), UsageError);
});
