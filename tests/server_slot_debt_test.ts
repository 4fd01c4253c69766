/**
 * Issue 17, the slot debt: a connection's unproductive time, by which a
 * full server chooses whom to close for a newcomer, grows while a read or
 * write on the peer is pending, is paid back by the bytes moved at the floor
 * rate (`--min-rate`), never goes below 0, and does not grow while the
 * server works on its own. The bookkeeping alone (a table of cases), then
 * on a real socket, then the option that sets the rate.
 */

import assert from "node:assert/strict";
import { SIGN_IN_GRACE_MS } from "../server/net/connection_slots.ts";
import { SlotDebt } from "../server/net/slot_debt.ts";
import { TimedConn } from "../server/net/timed_conn.ts";
import { parseCommandLine, UsageError } from "../server/cli/command_line.ts";
import { serverLimits } from "../server/server_options.ts";
import { within } from "./support/reliability.ts";

/** One step of a case: an operation begins, ends having moved bytes, or a request starts. */
type Step =
  | { begin: number }
  | { end: number; bytes: number }
  | { request: true };

Deno.test("slot debt: the bookkeeping", async (t) => {
  const cases: { name: string; rate: number; steps: Step[]; at: number; expected: number }[] = [
    {
      name: "nothing pending: no debt",
      rate: 1000,
      steps: [],
      at: 50_000,
      expected: 0,
    },
    {
      name: "a read pending for 3 s: 3 s, counted while it is still pending",
      rate: 1000,
      steps: [{ begin: 1_000 }],
      at: 4_000,
      expected: 3_000,
    },
    {
      name: "3 s pending, 500 bytes at 1000 B/s: 2.5 s",
      rate: 1000,
      steps: [{ begin: 0 }, { end: 3_000, bytes: 500 }],
      at: 3_000,
      expected: 2_500,
    },
    {
      name: "the server's own work between operations adds nothing",
      rate: 1000,
      steps: [{ begin: 0 }, { end: 1_000, bytes: 0 }, { begin: 60_000 }, { end: 61_000, bytes: 0 }],
      at: 90_000,
      expected: 2_000,
    },
    {
      name: "faster than the floor pays back, but never below 0 (no banking)",
      rate: 1000,
      steps: [
        { begin: 0 },
        { end: 2_000, bytes: 0 },
        { begin: 2_000 },
        { end: 2_100, bytes: 100_000 }, // 100 s worth in 0.1 s
        { begin: 2_100 },
      ],
      at: 5_100,
      expected: 3_000, // the 100 s earned are not kept
    },
    {
      name: "a read and a write pending together count once",
      rate: 1000,
      steps: [{ begin: 0 }, { begin: 500 }, { end: 1_000, bytes: 0 }],
      at: 2_000,
      expected: 2_000,
    },
    {
      name: "at exactly the floor rate the debt stays as it was",
      rate: 1000,
      steps: [{ begin: 0 }, { end: 1_000, bytes: 0 }, { begin: 1_000 }, {
        end: 5_000,
        bytes: 4_000,
      }],
      at: 5_000,
      expected: 1_000,
    },
    {
      name: "a request's first byte caps the debt carried into it at the sign-in grace",
      rate: 1000,
      steps: [{ begin: 0 }, { end: 25_000, bytes: 23 }, { request: true }],
      at: 25_000,
      expected: SIGN_IN_GRACE_MS,
    },
    {
      name: "a request's first byte leaves a smaller debt as it is",
      rate: 1000,
      steps: [{ begin: 0 }, { end: 1_000, bytes: 0 }, { request: true }],
      at: 1_000,
      expected: 1_000,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const debt = new SlotDebt(c.rate);
      for (const step of c.steps) {
        if ("begin" in step) debt.begin(step.begin);
        else if ("end" in step) debt.end(step.end, step.bytes);
        else debt.carryAtMost(SIGN_IN_GRACE_MS);
      }
      assert.equal(debt.unproductiveMs(c.at), c.expected);
    });
  }
  await t.step("a floor rate that is not positive is refused", () => {
    assert.throws(() => new SlotDebt(0), RangeError);
    assert.throws(() => new SlotDebt(Number.NaN), RangeError);
  });
});

/** A `TimedConn` on the server side of a loopback connection, and its client. */
async function pair(floorRate: number) {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connecting = Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = new TimedConn(await listener.accept(), { idleMs: 10_000 }, floorRate);
  return { server, client: await connecting };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("slot debt: on a socket, waiting for the peer runs it up, bytes pay it back, the server's own time does not count", async () => {
  const { server, client } = await pair(1000);
  try {
    const buffer = new Uint8Array(64 * 1024);
    // A read waits for the peer: the debt grows while it is pending.
    const reading = server.read(buffer);
    await sleep(300);
    assert.ok(server.unproductiveMs() >= 250, `${server.unproductiveMs()} ms after 300 ms`);
    await client.write(new Uint8Array(5_000)); // 5 s worth at 1000 B/s
    const n = await within("the read", reading, 5_000);
    assert.ok(n !== null && n > 0);
    // The bytes read paid it back (at least n ms), never below 0.
    assert.ok(server.unproductiveMs() <= Math.max(0, 400 - n), `${server.unproductiveMs()}`);
    // Nothing pending: the server working on its own runs up nothing.
    const before = server.unproductiveMs();
    await sleep(200);
    assert.equal(server.unproductiveMs(), before);
  } finally {
    server.close();
    client.close();
  }
});

Deno.test("slot debt: on a socket, a write the peer does not read runs it up", async () => {
  const { server, client } = await pair(1000);
  try {
    // Far more than the socket buffers hold; the client reads nothing.
    const writing = server.write(new Uint8Array(64 * 1024 * 1024)).catch(() => {});
    await sleep(500);
    const owed = server.unproductiveMs();
    assert.ok(owed > 0, "a blocked write is the peer's debt");
    await sleep(300);
    assert.ok(server.unproductiveMs() >= owed + 250, "it keeps growing while blocked");
    server.close();
    await within("the write to fail", writing, 5_000);
  } finally {
    server.close();
    client.close();
  }
});

Deno.test("slot debt: --min-rate sets the floor rate, default 64 KiB/s; bad values are usage errors", async (t) => {
  await t.step("default 64 KiB/s", () => {
    assert.equal(serverLimits({ dir: "." }).minRate, 64 * 1024);
  });
  await t.step("--min-rate 128KiB", () => {
    const command = parseCommandLine(["--min-rate", "128KiB"]);
    assert.equal(command.kind === "serve" && command.minRate, 128 * 1024);
  });
  for (const value of ["0", "fast", "-1"]) {
    await t.step(`--min-rate ${value} is a usage error`, () => {
      assert.throws(() => parseCommandLine(["--min-rate", value]), UsageError);
    });
  }
});
