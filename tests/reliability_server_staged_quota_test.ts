/**
 * Issue 17, staged bytes count: an upload reserves its declared size
 * against its client's `--max-stored` at its first packet, so several
 * connections of one client can no longer each pass the check alone and
 * hold many times the limit staged. The attack: one client limited to 1 MB
 * starts a 600 KB upload and holds it (first packets only), then sends
 * another 600 KB upload on a second connection; it is refused with 1607.
 * Once the first is discarded (its connection closes, or 901) a new one
 * fits, and `server clients` shows the bytes staged.
 */

import assert from "node:assert/strict";
import { encodeFileNameField, RequestCode, ResponseCode } from "../protocol/mod.ts";
import {
  buildPackets,
  encryptContent,
  RawClient,
  signUp,
  type TestIdentity,
} from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import type { ClientRow } from "../server/cli/operator.ts";
import { withServer } from "./support/test_server.ts";
import { runServerCommand } from "./support/server_command.ts";

const SIZE = 600_000;
const data = new Uint8Array(SIZE).fill(0x62);

/** The 828 header and packets of a 600 KB upload of `name`. */
async function uploadPackets(me: TestIdentity, name: string): Promise<Uint8Array[]> {
  const content = await encryptContent(me.aesKey, data);
  return buildPackets(content, data.length, encodeFileNameField(name));
}

/** `server clients --json` run as an operator in `dir`. */
async function clientRows(dir: string): Promise<ClientRow[]> {
  const run = await runServerCommand(["clients", "--json"], { cwd: dir });
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as ClientRow[];
}

/** Stager's staged bytes once they are `expected`, or as they are after 10 s (bounded polling). */
async function stagedBytes(dir: string, expected: number): Promise<number | undefined> {
  let staged: number | undefined;
  for (let i = 0; i < 100; i++) {
    staged = (await clientRows(dir)).find((row) => row.name === "Stager")?.stagedBytes;
    if (staged === expected) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return staged;
}

/** Connects a second connection of `me`, signed in again. */
async function again(port: number, me: TestIdentity): Promise<[RawClient, TestIdentity]> {
  const client = await RawClient.connect(port);
  const aesKey = await client.reconnect(me.clientId, me.name, me.keys.privateKey);
  return [client, { ...me, aesKey }];
}

Deno.test("staged quota: a held 600 KB upload counts; a second one past 1 MB is refused with 1607, a new one fits once it is discarded", async (t) => {
  await withServer(async ({ port, dir }) => {
    using first = await RawClient.connect(port);
    const me = await signUp(first, "Stager");
    const held = await uploadPackets(me, "held.bin");
    assert.ok(held.length > 1, "the upload spans several packets");
    await first.sendHeader(me.clientId, RequestCode.SendFile, 0);
    await first.send(concat(held.slice(0, 1)));

    await t.step("the held upload's bytes show as staged", async () => {
      // The reservation is made when its first packet is read.
      assert.equal(await stagedBytes(dir, SIZE), SIZE);
    });

    await t.step("a second 600 KB upload on another connection: 1607", async () => {
      const [second, me2] = await again(port, me);
      using _second = second;
      await second.sendHeader(me.clientId, RequestCode.SendFile, 0);
      await second.send(concat(await uploadPackets(me2, "second.bin")));
      assert.match(await second.expectError(), /Cannot store second\.bin: .*past the 1 MB/);
    });

    await t.step(
      "after 901 the client's reservation is released: another connection's upload fits",
      async () => {
        await first.send(concat(held.slice(1)));
        await first.expect(ResponseCode.FileReceived);
        await first.request(me.clientId, { code: RequestCode.CrcRetry, fileName: "held.bin" });
        assert.equal(await stagedBytes(dir, 0), 0);
        const [third, me3] = await again(port, me);
        using _third = third;
        await third.upload(me.clientId, me3.aesKey, "third.bin", data);
        const row = (await clientRows(dir)).find((r) => r.name === "Stager");
        assert.equal(row?.stagedBytes, SIZE, "the third upload awaits its verdict, staged");
        assert.equal(row?.bytes, 0);
      },
    );

    await t.step(
      "after its connection closes, the held reservation is gone: a new upload fits",
      async () => {
        // The third connection closed at the end of the step before.
        assert.equal(await stagedBytes(dir, 0), 0);
        const [fourth, me4] = await again(port, me);
        using _fourth = fourth;
        await fourth.upload(me.clientId, me4.aesKey, "fourth.bin", data);
        await fourth.request(me.clientId, { code: RequestCode.CrcOk, fileName: "fourth.bin" });
        await fourth.expect(ResponseCode.Ack);
        const row = (await clientRows(dir)).find((r) => r.name === "Stager");
        assert.deepEqual([row?.files, row?.bytes, row?.stagedBytes], [1, SIZE, 0]);
      },
    );
  }, { maxStoredBytes: 1_000_000 });
});
