/**
 * The watchdog (`common/watchdog.ts`): one timer for the idle deadlines of a
 * connection's reads and writes, failing exactly the operations that pass
 * their deadline, and leaving no timer behind once released.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Watchdog } from "../common/watchdog.ts";

/** `value`, `ms` milliseconds from now. */
function later<T>(value: T, ms: number): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

Deno.test("a watchdog fails only what passes its deadline, once, under one timer", async (t) => {
  await t.step("an operation in time settles as it does", async () => {
    const watchdog = new Watchdog();
    assert.equal(await watchdog.watch(later(7, 5), 500), 7);
    await assert.rejects(watchdog.watch(Promise.reject(new SyntaxError("bad")), 500), SyntaxError);
    watchdog.release();
  });

  await t.step("one past its deadline fails with TimedOut after onExpire, once", async () => {
    let expired = 0;
    const watchdog = new Watchdog({ onExpire: () => expired++, message: "no data for 20 ms" });
    const slow = later(1, 200);
    await assert.rejects(watchdog.watch(slow, 20), {
      name: "TimedOut",
      message: "no data for 20 ms",
    });
    assert.equal(expired, 1);
    await slow; // its late outcome is ignored
    await assert.rejects(watchdog.watch(later(2, 200), 20), Deno.errors.TimedOut);
    assert.equal(expired, 1, "onExpire runs for the first expiry only");
    watchdog.release();
  });

  await t.step(
    "operations one after another, each in time, never fail however long in all",
    async () => {
      let expired = 0;
      const watchdog = new Watchdog({ onExpire: () => expired++ });
      for (let i = 0; i < 12; i++) assert.equal(await watchdog.watch(later(i, 10), 40), i);
      assert.equal(expired, 0);
      watchdog.release();
    },
  );

  await t.step("a sooner deadline than the one armed still fires on time", async () => {
    const watchdog = new Watchdog();
    const patient = watchdog.watch(later("late", 150), 5_000);
    const started = performance.now();
    await assert.rejects(watchdog.watch(later("never", 1_000), 30), Deno.errors.TimedOut);
    assert.ok(performance.now() - started < 900, "the 30 ms deadline waited for the 5 s one");
    assert.equal(await patient, "late", "the pending one with time left is not failed");
    watchdog.release();
  });

  await t.step(
    "released with an operation pending, it still fails it at its deadline",
    async () => {
      const watchdog = new Watchdog();
      const hung = new Promise<never>(() => {});
      const watched = watchdog.watch(hung, 30);
      watchdog.release();
      await assert.rejects(watched, Deno.errors.TimedOut);
    },
  );

  await t.step("no limit (0, Infinity) returns the operation; a negative one is refused", () => {
    const watchdog = new Watchdog();
    const operation = later(1, 1);
    assert.equal(watchdog.watch(operation, 0), operation);
    assert.equal(watchdog.watch(operation, Infinity), operation);
    assert.throws(() => watchdog.watch(operation, -1), RangeError);
    watchdog.release();
    return operation.then(() => {});
  });
});
