/**
 * Issue 11 §3, same-name races: two connections of one client upload one
 * name at once, round after round. Whatever the interleaving, the file row
 * matches the file on disk, the file is one of the two confirmed versions,
 * and a 901 on one connection never deletes what the other confirmed.
 */

import assert from "node:assert/strict";
import { cksum, clientIdToHex, RequestCode, ResponseCode } from "../protocol/mod.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { listNames } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

const ROUNDS = 60;

Deno.test("same-name race: two connections, one name, many rounds: the row always matches the file", async () => {
  await withServer(async ({ port, dir }) => {
    using a = await RawClient.connect(port);
    const me = await signUp(a, "Racer");
    using b = await RawClient.connect(port);
    const keyB = await b.reconnect(me.clientId, me.name, me.keys.privateKey);
    const sides = [{ client: a, key: me.aesKey }, { client: b, key: keyB }];
    const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
    const registry = await SqliteRegistry.open(`${dir}/server.db`);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const versions = sides.map((_, side) =>
          new TextEncoder().encode(`round ${round}, side ${side}`.repeat(1 + (round + side) % 7))
        );
        // Both upload at once, then both confirm at once (or one gives up, every third round).
        await Promise.all(
          sides.map(({ client, key }, side) =>
            client.upload(me.clientId, key, "same.txt", versions[side]!)
          ),
        );
        const retry = round % 3 === 2 ? 1 : -1;
        await Promise.all(sides.map(async ({ client }, side) => {
          if (side === retry) {
            await client.request(me.clientId, { code: RequestCode.CrcRetry, fileName: "same.txt" });
            await client.upload(me.clientId, sides[side]!.key, "other.txt", versions[side]!);
            await client.request(me.clientId, {
              code: RequestCode.CrcAbort,
              fileName: "other.txt",
            });
          } else {
            await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "same.txt" });
          }
          await client.expect(ResponseCode.Ack);
        }));
        const onDisk = await Deno.readFile(`${folder}/same.txt`);
        const row = await registry.file(me.clientId, "same.txt");
        assert.equal(row?.size, onDisk.length, `round ${round}`);
        assert.equal(row?.cksum, cksum(onDisk), `round ${round}`);
        const confirmed = versions.filter((_, side) => side !== retry);
        assert.ok(confirmed.some((v) => cksum(v) === cksum(onDisk)), `round ${round}`);
      }
      assert.deepEqual(await listNames(folder), ["same.txt"]);
      assert.deepEqual(await registry.pendingCommits(), []);
    } finally {
      await registry.close();
    }
  });
});
