/**
 * Issue 17, §4: slow uploads held their grants from the shared buffer budget
 * while they waited for their next bytes, and everyone stalled behind them
 * (a polite 4 MB upload took up to 42.7 s instead of 0.12 s). Now no upload
 * holds memory of the budget while it waits for the network: a polite upload
 * completes while 100 slow uploads hold their connections, all of them still
 * in progress. (Its time alone and under the slow ones is printed by
 * `bench/fair_buffers.ts`, not asserted here.)
 */

import assert from "node:assert/strict";
import { cksum } from "../protocol/mod.ts";
import { generateRsaKeyPair } from "../protocol/rsa.ts";
import { randomBytes, RawClient, signUp } from "../harness/raw_client.ts";
import { SlowUploads } from "../harness/slow_upload.ts";
import { BufferBudget } from "../server/upload/buffer_budget.ts";
import { within } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

/** The slow uploads. */
const SLOW = 100;
/** A small budget: 100 one-packet grants held while waiting would take all of it. */
const BUDGET = 2 * 1024 * 1024;
/** A slow upload sends a packet this often. */
const SLOW_INTERVAL_MS = 10_000;

Deno.test("reliability: a polite upload completes while 100 slow uploads hold their connections", async () => {
  const budget = new BufferBudget(BUDGET);
  await withServer(async ({ port }) => {
    const keys = await generateRsaKeyPair();
    const slow = await within(
      "100 slow uploads to start",
      SlowUploads.start(port, SLOW, 2_000_000, SLOW_INTERVAL_MS, keys),
      60_000,
    );
    try {
      using polite = await RawClient.connect(port);
      const me = await signUp(polite, "Polite", keys);
      const data = randomBytes(4_000_000);
      const started = performance.now();
      const received = await within(
        "the polite upload",
        polite.upload(me.clientId, me.aesKey, "polite.bin", data),
        120_000,
      );
      const seconds = (performance.now() - started) / 1000;
      assert.equal(received.cksum, cksum(data));
      const inProgress = slow.uploads.filter((upload) =>
        !upload.ended && upload.sent < upload.total
      );
      const mostSent = Math.max(...slow.uploads.map((upload) => upload.sent));
      console.log(
        `polite 4 MB upload: ${seconds.toFixed(2)} s with ${inProgress.length} of ${SLOW} ` +
          `slow uploads in progress, none past packet ${mostSent}; ` +
          `budget peak ${budget.peak} of ${budget.total} bytes`,
      );
      assert.equal(inProgress.length, SLOW, "the polite upload waited for slow ones to end");
      // Before, the polite upload got memory only as slow ones sent their next
      // packets, a packet's worth each time: it finished after they had sent several.
      assert.ok(
        mostSent <= 3,
        `the polite upload finished only after a slow one had sent ${mostSent} packets`,
      );
      assert.ok(budget.peak <= budget.total);
    } finally {
      await slow.stop();
    }
  }, {
    uploadBuffers: budget,
    maxConnectionsPerAddress: 256,
    registrationsPerMinute: 1000,
  });
});
