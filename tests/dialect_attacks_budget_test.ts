/**
 * Dialect uploads against the shared buffer budget (issue 17, "fair
 * buffers", per dialect as issue 22 asks): an upload of any family that
 * stops mid-way holds none of the budget while it waits for the network, so
 * slow uploads of other dialects cannot stall everyone else behind it; the
 * upload then completes byte for byte when its bytes come. An upload of any
 * family trickled below the minimum rate is cut off and its partial file
 * removed, as the reference's is.
 */

import assert from "node:assert/strict";
import { cksum, encodeFileNameField, generateRsaKeyPair } from "../protocol/mod.ts";
import {
  A_AYALA,
  B_B0RIK,
  C_AVIV,
  D_H3NGO1U,
  DialectClient,
  type DialectFileReceived,
} from "../harness/dialect_client.ts";
import { randomBytes, RawClient, signUp } from "../harness/raw_client.ts";
import { BufferBudget } from "../server/upload/buffer_budget.ts";
import { withServer } from "./support/test_server.ts";
import { delay, temporaryFiles, waitUntil, within } from "./support/reliability.ts";

const SLOW = [A_AYALA, B_B0RIK, C_AVIV, D_H3NGO1U];

Deno.test("dialect attack: uploads of every family stopped mid-way hold none of the buffer budget; a polite upload goes through", async () => {
  const budget = new BufferBudget(64 * 1024 * 1024);
  await withServer(async ({ port }) => {
    const slow = await Promise.all(SLOW.map(async (profile, i) => {
      const client = await DialectClient.connect(port, profile);
      const name = `Stalled ${profile.label}`;
      const id = await client.register(name);
      const aesKey = await client.sendPublicKey(id, name, await generateRsaKeyPair());
      const data = randomBytes(3 * 1024 * 1024 + i);
      const field = encodeFileNameField(`stalled-${i}.bin`);
      const bytes = await client.uploadBytes(id, aesKey, field, data);
      return { client, data, bytes, field };
    }));
    try {
      // A third of each upload, then silence.
      for (const { client, bytes } of slow) {
        await client.send(bytes.subarray(0, Math.floor(bytes.length / 3)));
      }
      await waitUntil("the stalled uploads to be read", () => budget.peak > 0, 10_000);
      await delay(500);
      assert.equal(budget.inUse, 0, `stalled uploads hold ${budget.inUse} bytes of the budget`);
      // A polite reference upload meanwhile.
      using polite = await RawClient.connect(port);
      const me = await signUp(polite, "Polite");
      const data = randomBytes(4 * 1024 * 1024);
      const received = await within(
        "the polite upload",
        polite.upload(me.clientId, me.aesKey, "polite.bin", data),
        30_000,
      );
      assert.equal(received.cksum, cksum(data));
      // The rest of each: every one completes byte for byte.
      for (const { client, bytes, data, field } of slow) {
        await client.send(bytes.subarray(Math.floor(bytes.length / 3)));
        const answer = await within("the stalled upload's answer", client.readAnswer(), 30_000);
        assert.equal(
          answer.response.meaning,
          "fileReceived",
          `${client.profile.label}: ${answer.code}`,
        );
        const got = answer.response as DialectFileReceived;
        assert.deepEqual(got.fileNameField, field);
        assert.equal(got.cksum, cksum(data), client.profile.label);
      }
      assert.equal(budget.inUse, 0);
    } finally {
      for (const { client } of slow) client[Symbol.dispose]();
    }
  }, { uploadBuffers: budget });
});

/** Sends `bytes` one at a time every `intervalMs` until the server closes; returns how many went. */
async function trickle(client: DialectClient, bytes: Uint8Array, intervalMs: number) {
  let closed = false;
  const ending = client.readHeader().then(() => closed = true, () => closed = true);
  let sent = 0;
  try {
    for (; sent < bytes.length && !closed; sent++) {
      const ok = await client.send(bytes.subarray(sent, sent + 1)).then(() => true, () => false);
      if (!ok) break;
      await delay(intervalMs);
    }
  } finally {
    if (!closed) client[Symbol.dispose]();
    await ending;
  }
  return sent;
}

Deno.test("dialect attack: an upload of any family trickled below the minimum rate is cut off, its partial file removed", async (t) => {
  await withServer(async ({ port, dir }) => {
    for (const profile of SLOW) {
      await t.step(profile.label, async () => {
        using client = await DialectClient.connect(port, profile);
        const name = `Trickle ${profile.label}`;
        const id = await client.register(name);
        const aesKey = await client.sendPublicKey(id, name, await generateRsaKeyPair());
        const field = encodeFileNameField("trickle.bin");
        const bytes = await client.uploadBytes(id, aesKey, field, randomBytes(200_000));
        // A first part at once, so the upload is staged; then a byte every 50 ms.
        await client.send(bytes.subarray(0, 70_000));
        await waitUntil("the temporary file", async () => (await temporaryFiles(dir)).length === 1);
        const sent = await trickle(client, bytes.subarray(70_000, 70_200), 50);
        assert.ok(sent < 200, `the server still read after ${sent} bytes over ${sent * 50} ms`);
        await waitUntil(
          "the partial file's removal",
          async () => (await temporaryFiles(dir)).length === 0,
        );
      });
    }
  }, { idleTimeoutMs: 10_000, requestTimeoutMs: 500, headerTimeoutMs: 500 });
});
