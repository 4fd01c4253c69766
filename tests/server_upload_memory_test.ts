/**
 * Issue 11, §2 "Memory under concurrent uploads": 250 slow uploads used to
 * take about 6 MB each. Every upload's batch buffers now come from one
 * budget: with a small one, many concurrent uploads all complete and the
 * budget is never exceeded; one upload alone still gets whole batches. (The
 * memory and speed figures are in `bench/upload_memory.ts`.)
 */

import assert from "node:assert/strict";
import { cksum } from "../protocol/mod.ts";
import { BufferBudget } from "../server/upload/buffer_budget.ts";
import { BATCH_BYTES_PER_PACKET, BATCH_PACKETS } from "../server/upload/upload.ts";
import { randomBytes, RawClient, signUp } from "../harness/raw_client.ts";
import { withServer } from "./support/test_server.ts";

Deno.test("server: 60 concurrent uploads share a budget of 16 batches' worth: every one completes, the budget is never exceeded", async () => {
  const budget = new BufferBudget(16 * BATCH_BYTES_PER_PACKET * 8);
  await withServer(async ({ port }) => {
    using first = await RawClient.connect(port);
    const me = await signUp(first, "Many Uploads");
    await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      using client = await RawClient.connect(port);
      const aesKey = await client.reconnect(me.clientId, me.name, me.keys.privateKey);
      const data = randomBytes(200_000 + i);
      const received = await client.upload(me.clientId, aesKey, `file-${i}.bin`, data);
      assert.equal(received.cksum, cksum(data));
    }));
  }, {
    uploadBuffers: budget,
    maxConnectionsPerAddress: 100,
    maxConnectionsPerIdentity: 100, // one identity on every connection
  });
  assert.ok(budget.peak > 0, "the uploads did not use the budget");
  assert.ok(budget.peak <= budget.total, `peak ${budget.peak} above ${budget.total}`);
  assert.equal(budget.inUse, 0, "an upload kept its buffers");
});

Deno.test("server: one upload alone reads whole batches from the budget", async () => {
  const budget = new BufferBudget(64 * 1024 * 1024);
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Alone");
    const data = randomBytes(3 * 1024 * 1024);
    const received = await client.upload(me.clientId, me.aesKey, "alone.bin", data);
    assert.equal(received.cksum, cksum(data));
  }, { uploadBuffers: budget });
  assert.ok(
    budget.peak >= BATCH_PACKETS * BATCH_BYTES_PER_PACKET,
    `the largest grant was ${budget.peak} bytes, less than one whole batch`,
  );
  assert.equal(budget.inUse, 0);
});
