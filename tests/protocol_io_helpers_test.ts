/**
 * The shared I/O helpers: writeAll over a writer that takes little at a
 * time, the deadline (settles like its operation, or fails with TimedOut,
 * cancels it, and leaves no timer behind), and which errors count as a lost
 * connection, by class.
 */

import assert from "node:assert/strict";
import { isConnectionLost, isNetworkFailure } from "../common/connection_lost.ts";
import { withDeadline } from "../common/deadline.ts";
import { writeAll, writeAllSync } from "../common/write_all.ts";

Deno.test("writeAll writes every byte through short writes", async () => {
  const taken: number[] = [];
  const writer = {
    write(p: Uint8Array): Promise<number> {
      const n = Math.min(3, p.length);
      taken.push(...p.subarray(0, n));
      return Promise.resolve(n);
    },
  };
  const bytes = new Uint8Array(100).map((_, i) => i);
  await writeAll(writer, bytes);
  assert.deepEqual(taken, [...bytes]);
  await writeAll(writer, new Uint8Array(0));
  assert.equal(taken.length, 100);
});

Deno.test("writeAllSync writes every byte through short writes", () => {
  const taken: number[] = [];
  const writer = {
    writeSync(p: Uint8Array): number {
      const n = Math.min(7, p.length);
      taken.push(...p.subarray(0, n));
      return n;
    },
  };
  const bytes = new Uint8Array(50).map((_, i) => 255 - i);
  writeAllSync(writer, bytes);
  assert.deepEqual(taken, [...bytes]);
});

Deno.test("writeAll passes the writer's failure on", async () => {
  const writer = { write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")) };
  await assert.rejects(writeAll(writer, new Uint8Array(1)), Deno.errors.BrokenPipe);
});

Deno.test("a deadline settles like its operation when it is in time", async (t) => {
  await t.step("value", async () => {
    assert.equal(await withDeadline(Promise.resolve(7), 1000), 7);
  });
  await t.step("error", async () => {
    await assert.rejects(withDeadline(Promise.reject(new RangeError("x")), 1000), RangeError);
  });
  await t.step("no limit", async () => {
    assert.equal(await withDeadline(Promise.resolve(1), 0), 1);
    assert.equal(await withDeadline(Promise.resolve(2), Infinity), 2);
  });
  await t.step("a limit that is not a duration", () => {
    assert.throws(() => withDeadline(Promise.resolve(1), -1), RangeError);
  });
});

Deno.test("a deadline that passes cancels the operation and fails with TimedOut", async () => {
  let cancel!: (error: Error) => void;
  const operation = new Promise<number>((_, reject) => cancel = reject);
  let expired = 0;
  await assert.rejects(
    withDeadline(operation, 5, {
      onExpire: () => {
        expired++;
        cancel(new Deno.errors.BadResource("closed")); // as closing a socket does
      },
      message: "the peer made no progress",
    }),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.TimedOut);
      assert.equal(error.message, "the peer made no progress");
      return true;
    },
  );
  assert.equal(expired, 1);
});

Deno.test("lost connections are told apart by class, not message", async (t) => {
  const lost = [
    new Deno.errors.ConnectionReset("x"),
    new Deno.errors.ConnectionAborted("x"),
    new Deno.errors.BrokenPipe("x"),
    new Deno.errors.NotConnected("x"),
    new Deno.errors.UnexpectedEof("x"),
    new Deno.errors.TimedOut("x"),
    new Deno.errors.BadResource("x"),
    new Deno.errors.Interrupted("x"),
  ];
  const connectOnly = [
    new Deno.errors.ConnectionRefused("x"),
    new Deno.errors.AddrNotAvailable("x"),
    new Deno.errors.NetworkUnreachable("x"),
  ];
  const neither = [
    new TypeError("connection reset"),
    new Error("broken pipe"),
    new Deno.errors.PermissionDenied("network"),
    new Deno.errors.AddrInUse("x"),
    "connection reset",
    undefined,
  ];
  for (const error of lost) {
    await t.step(`${error.name} is a lost connection`, () => {
      assert.ok(isConnectionLost(error));
      assert.ok(isNetworkFailure(error));
    });
  }
  for (const error of connectOnly) {
    await t.step(`${error.name} is a network failure, not a lost connection`, () => {
      assert.ok(!isConnectionLost(error));
      assert.ok(isNetworkFailure(error));
    });
  }
  for (const error of neither) {
    await t.step(`${String(error)} is neither`, () => {
      assert.ok(!isConnectionLost(error));
      assert.ok(!isNetworkFailure(error));
    });
  }
});
