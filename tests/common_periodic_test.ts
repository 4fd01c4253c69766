/**
 * A periodic job (`common/periodic.ts`, the server's sweeps): one run at a
 * time, failures reported and the schedule kept, and a stop that waits for
 * the run in progress.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Periodic } from "../common/periodic.ts";

/** Resolves after `ms` milliseconds. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("a periodic job runs on schedule, one run at a time, until stopped", async (t) => {
  await t.step("now runs at once; otherwise the first run waits one interval", async () => {
    let runs = 0;
    const soon = new Periodic({
      intervalMs: 10_000,
      run: () => Promise.resolve(runs++),
      onError: () => {},
    });
    soon.start({ now: true });
    await sleep(20);
    assert.equal(runs, 1);
    await soon.stop();
    const later = new Periodic({
      intervalMs: 10_000,
      run: () => Promise.resolve(runs++),
      onError: () => {},
    });
    later.start();
    await sleep(20);
    assert.equal(runs, 1, "a run came before its interval");
    await later.stop();
  });

  await t.step("a failed run is reported and the next one still comes", async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const job = new Periodic({
      intervalMs: 5,
      run: () => ++runs === 1 ? Promise.reject(new RangeError("disk gone")) : Promise.resolve(),
      onError: (error) => errors.push(error),
    });
    job.start({ now: true });
    for (let i = 0; i < 100 && runs < 3; i++) await sleep(5);
    await job.stop();
    assert.ok(runs >= 3, `only ${runs} runs`);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof RangeError);
  });

  await t.step("runs never overlap, and stop waits for the one in progress", async () => {
    let active = 0;
    let most = 0;
    let finished = 0;
    const job = new Periodic({
      intervalMs: 1,
      run: async () => {
        most = Math.max(most, ++active);
        await sleep(15);
        active--;
        finished++;
      },
      onError: () => {},
    });
    job.start({ now: true });
    await sleep(40);
    await job.stop();
    assert.equal(active, 0, "stop settled with a run still going");
    assert.equal(most, 1);
    const after = finished;
    await sleep(30);
    assert.equal(finished, after, "a run came after stop");
  });

  await t.step("an interval that is not a positive duration is refused", () => {
    for (const intervalMs of [0, -1, NaN, Infinity]) {
      assert.throws(
        () => new Periodic({ intervalMs, run: () => Promise.resolve(), onError: () => {} }),
        RangeError,
      );
    }
  });
});
