/**
 * Issue 11, §2 "Memory under concurrent uploads": the budget that all
 * uploads' batch buffers come from. One member alone gets what it wants, many
 * share it fairly with smaller batches, a request waits when not even its
 * minimum is free, and the total is never exceeded.
 */

import assert from "node:assert/strict";
import { BufferBudget } from "../server/upload/buffer_budget.ts";
import { delay, SeededRandom } from "./support/reliability.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

Deno.test("buffer budget: grants", async (t) => {
  await t.step("one member alone gets the whole batch it wants", async () => {
    const budget = new BufferBudget(64 * MIB);
    using member = budget.join();
    using grant = await member.acquire(3 * MIB, 24 * KIB);
    assert.equal(grant.bytes, 3 * MIB);
  });
  await t.step("many members get smaller batches: the total over twice the members", async () => {
    const budget = new BufferBudget(64 * MIB);
    const members = Array.from({ length: 256 }, () => budget.join());
    using grant = await members[0]!.acquire(3 * MIB, 24 * KIB);
    assert.equal(grant.bytes, 128 * KIB);
    for (const member of members) member.leave();
    assert.equal(budget.members, 0);
  });
  await t.step("a grant is never below the minimum, even when the fair share is", async () => {
    const budget = new BufferBudget(MIB);
    const members = Array.from({ length: 100 }, () => budget.join());
    using grant = await members[0]!.acquire(MIB, 24 * KIB);
    assert.equal(grant.bytes, 24 * KIB);
  });
  await t.step("with less than the share free but the minimum free, what is free", async () => {
    const budget = new BufferBudget(100 * KIB);
    using a = budget.join();
    using big = await a.acquire(90 * KIB, 10 * KIB);
    assert.equal(big.bytes, 50 * KIB); // the share alone: 100 / 2
    using b = budget.join();
    using second = await b.acquire(90 * KIB, 10 * KIB);
    assert.equal(second.bytes, 25 * KIB); // the share with two members: 100 / 4
    using third = await a.acquire(90 * KIB, 10 * KIB);
    assert.equal(third.bytes, 25 * KIB); // exactly what is free
  });
  await t.step("leaving gives back what the member's grants still hold", async () => {
    const budget = new BufferBudget(MIB);
    const member = budget.join();
    const kept = await member.acquire(100 * KIB, KIB);
    await member.acquire(100 * KIB, KIB);
    kept.release();
    assert.equal(budget.inUse, 100 * KIB);
    member.leave();
    assert.equal(budget.inUse, 0);
    assert.equal(budget.members, 0);
  });
  await t.step("invalid requests are refused", async () => {
    const budget = new BufferBudget(MIB);
    using member = budget.join();
    await assert.rejects(member.acquire(10, 20), RangeError);
    await assert.rejects(member.acquire(2 * MIB, 2 * MIB), RangeError);
    member.leave();
    await assert.rejects(member.acquire(10, 10), RangeError);
    assert.throws(() => new BufferBudget(0), RangeError);
  });
});

Deno.test("buffer budget: a request waits while not even its minimum is free, first come first served", async () => {
  const budget = new BufferBudget(100);
  using a = budget.join();
  using b = budget.join();
  using c = budget.join();
  const first = await a.acquire(100, 100); // everything: the minimum wins over the share
  const order: string[] = [];
  const second = b.acquire(60, 60).then((grant) => (order.push("b"), grant));
  const third = c.acquire(10, 10).then((grant) => (order.push("c"), grant));
  await delay(10);
  assert.deepEqual(order, []);
  assert.equal(budget.waiting, 2);
  first.release();
  first.release(); // a second release gives nothing back twice
  const [g2, g3] = await Promise.all([second, third]);
  assert.deepEqual(order, ["b", "c"]);
  assert.equal(budget.inUse, g2.bytes + g3.bytes);
  g2.release();
  g3.release();
  assert.equal(budget.inUse, 0);
  assert.equal(budget.peak, 100);
});

Deno.test("buffer budget: 250 uploads of 40 batches each, two batches in flight: all finish, the total is never exceeded", async () => {
  const total = 8 * MIB;
  const budget = new BufferBudget(total);
  const random = new SeededRandom(11);
  const packet = 3 * 8 * KIB;
  const batches: number[] = [];
  await Promise.all(Array.from({ length: 250 }, async () => {
    using member = budget.join();
    let inFlight: Promise<void> = Promise.resolve();
    for (let i = 0; i < 40; i++) {
      const grant = await member.acquire(128 * packet, packet); // "read" the next batch
      assert.ok(budget.inUse <= total);
      batches.push(grant.bytes);
      await delay(random.below(3));
      await inFlight; // the previous batch is consumed before this one starts
      inFlight = delay(random.below(3)).then(() => grant.release());
    }
    await inFlight;
  }));
  assert.equal(batches.length, 250 * 40);
  assert.ok(budget.peak <= total, `peak ${budget.peak} above ${total}`);
  assert.equal(budget.inUse, 0);
  assert.ok(Math.min(...batches) >= packet);
});
