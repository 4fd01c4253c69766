/**
 * The reusable batch buffers of uploads (`server/upload/batch_buffers.ts`):
 * a full batch reuses a buffer given back instead of mapping fresh memory,
 * small batches (many uploads at once) get buffers of their own size, and
 * the idle buffers kept never exceed their bound.
 */

import assert from "node:assert/strict";
import { BatchBuffers } from "../server/upload/batch_buffers.ts";

const CAPACITY = 1024 * 1024;

Deno.test("batch buffers: reuse and bounds", async (t) => {
  await t.step("a large buffer given back is the next one taken", () => {
    const buffers = new BatchBuffers(CAPACITY, 2);
    const first = buffers.take(CAPACITY);
    first.fill(7);
    buffers.recycle(first);
    assert.equal(buffers.kept, 1);
    const second = buffers.take(CAPACITY - 100);
    assert.equal(second.buffer, first.buffer);
    assert.equal(second.length, CAPACITY - 100);
    assert.equal(buffers.kept, 0);
  });
  await t.step("a small batch gets a fresh buffer of its own size, freed when given back", () => {
    const buffers = new BatchBuffers(CAPACITY, 2);
    const small = buffers.take(8192);
    assert.equal(small.buffer.byteLength, 8192);
    buffers.recycle(small);
    assert.equal(buffers.kept, 0);
    assert.equal(small.buffer.detached, true);
  });
  await t.step("no more than `most` idle buffers are kept; the rest are freed", () => {
    const buffers = new BatchBuffers(CAPACITY, 2);
    const taken = [0, 1, 2].map(() => buffers.take(CAPACITY));
    for (const bytes of taken) buffers.recycle(bytes);
    assert.equal(buffers.kept, 2);
    assert.equal(taken[2]!.buffer.detached, true);
  });
  await t.step("a buffer given back twice is kept once", () => {
    const buffers = new BatchBuffers(CAPACITY, 4);
    const bytes = buffers.take(CAPACITY);
    buffers.recycle(bytes);
    buffers.recycle(bytes);
    assert.equal(buffers.kept, 1);
  });
  await t.step("a buffer of another size is freed, not kept", () => {
    const buffers = new BatchBuffers(CAPACITY, 4);
    const other = new Uint8Array(CAPACITY + 1);
    buffers.recycle(other);
    assert.equal(buffers.kept, 0);
    assert.equal(other.buffer.detached, true);
  });
  await t.step("sizes out of range are refused", () => {
    const buffers = new BatchBuffers(CAPACITY, 4);
    assert.throws(() => buffers.take(CAPACITY + 1), RangeError);
    assert.throws(() => buffers.take(-1), RangeError);
    assert.throws(() => new BatchBuffers(0, 1), RangeError);
  });
});
