/**
 * The secure relay's read buffers (`server/net/relay_buffers.ts`): a flow
 * that fills the small buffer borrows a large one, gives it back when it
 * slows, and the large buffers lent never exceed the pool, however many
 * relays ask.
 */

import assert from "node:assert/strict";
import {
  RelayBuffer,
  RelayBufferPool,
  SMALL_RELAY_BUFFER_SIZE,
} from "../server/net/relay_buffers.ts";

const LARGE = 256 * 1024;

Deno.test("relay buffers: borrowing while bytes keep coming", async (t) => {
  await t.step("a read that filled the small buffer borrows a large one", () => {
    const pool = new RelayBufferPool(LARGE, 2);
    const relay = new RelayBuffer(pool);
    assert.equal(relay.buffer.length, SMALL_RELAY_BUFFER_SIZE);
    relay.after(SMALL_RELAY_BUFFER_SIZE);
    assert.equal(relay.buffer.length, LARGE);
    assert.equal(pool.free, 1);
  });
  await t.step("it keeps the large one while reads bring more than the small one holds", () => {
    const pool = new RelayBufferPool(LARGE, 2);
    const relay = new RelayBuffer(pool);
    relay.after(SMALL_RELAY_BUFFER_SIZE);
    const large = relay.buffer;
    relay.after(SMALL_RELAY_BUFFER_SIZE + 1);
    relay.after(LARGE);
    assert.equal(relay.buffer, large);
  });
  await t.step("a slower read gives the large one back", () => {
    const pool = new RelayBufferPool(LARGE, 2);
    const relay = new RelayBuffer(pool);
    relay.after(SMALL_RELAY_BUFFER_SIZE);
    relay.after(SMALL_RELAY_BUFFER_SIZE);
    assert.equal(relay.buffer.length, SMALL_RELAY_BUFFER_SIZE);
    assert.equal(pool.free, 2);
  });
  await t.step("partial reads of the small buffer never borrow", () => {
    const pool = new RelayBufferPool(LARGE, 2);
    const relay = new RelayBuffer(pool);
    relay.after(100);
    assert.equal(relay.buffer.length, SMALL_RELAY_BUFFER_SIZE);
    assert.equal(pool.free, 2);
  });
  await t.step("no more large buffers are lent than the pool holds; the rest read small", () => {
    const pool = new RelayBufferPool(LARGE, 2);
    const relays = Array.from({ length: 5 }, () => new RelayBuffer(pool));
    for (const relay of relays) relay.after(SMALL_RELAY_BUFFER_SIZE);
    assert.deepEqual(relays.map((relay) => relay.buffer.length), [
      LARGE,
      LARGE,
      SMALL_RELAY_BUFFER_SIZE,
      SMALL_RELAY_BUFFER_SIZE,
      SMALL_RELAY_BUFFER_SIZE,
    ]);
    assert.equal(pool.free, 0);
    relays[0]!.release();
    relays[0]!.release(); // idempotent
    assert.equal(pool.free, 1);
    relays[2]!.after(SMALL_RELAY_BUFFER_SIZE);
    assert.equal(relays[2]!.buffer.length, LARGE);
  });
});
