/**
 * The general helpers of `common/` that both programs share: one address
 * formatter, one byte formatter, one `exists`, one `errorMessage`, and the
 * one failure report shape with its causes.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatAddress, plainHost } from "../common/address.ts";
import { errorMessage } from "../common/error_message.ts";
import { exists } from "../common/exists.ts";
import { CAUSE_DEPTH, stackWithCauses } from "../common/failure_report.ts";
import { formatBytes } from "../common/units.ts";

Deno.test("formatAddress writes host:port, IPv6 in brackets, IPv4-mapped as IPv4", async (t) => {
  const cases: [string, number, string][] = [
    ["127.0.0.1", 1256, "127.0.0.1:1256"],
    ["example.org", 1256, "example.org:1256"],
    ["::1", 1256, "[::1]:1256"],
    ["::", 0, "[::]:0"],
    ["::ffff:10.0.0.1", 80, "10.0.0.1:80"],
    ["::FFFF:10.0.0.1", 80, "10.0.0.1:80"],
    ["fe80::1", 8080, "[fe80::1]:8080"],
  ];
  for (const [host, port, written] of cases) {
    await t.step(`${host} ${port}`, () => assert.equal(formatAddress(host, port), written));
  }
  assert.equal(plainHost("::ffff:1.2.3.4"), "1.2.3.4");
  assert.equal(plainHost("::ffff:1.2.3"), "::ffff:1.2.3");
});

Deno.test("formatBytes trims .0 by default and keeps it when fixed", async (t) => {
  const cases: [number, string, string][] = [
    [0, "0 B", "0 B"],
    [999, "999 B", "999 B"],
    [1000, "1 kB", "1.0 kB"],
    [1_500_000, "1.5 MB", "1.5 MB"],
    [999_999, "1 MB", "1.0 MB"],
    [800_000_000, "800 MB", "800.0 MB"],
  ];
  for (const [bytes, trimmed, fixed] of cases) {
    await t.step(String(bytes), () => {
      assert.equal(formatBytes(bytes), trimmed);
      assert.equal(formatBytes(bytes, { fixed: true }), fixed);
    });
  }
});

Deno.test("errorMessage is an Error's message, or anything else as text", () => {
  assert.equal(errorMessage(new Deno.errors.NotFound("no such file")), "no such file");
  assert.equal(errorMessage("plain text"), "plain text");
  assert.equal(errorMessage(42), "42");
  assert.equal(errorMessage(undefined), "undefined");
});

Deno.test("exists says no only for a missing path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "common_exists_" });
  try {
    assert.equal(await exists(dir), true);
    assert.equal(await exists(join(dir, "missing")), false);
    await Deno.writeTextFile(join(dir, "file"), "x");
    assert.equal(await exists(join(dir, "file")), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stackWithCauses prints the stack, then each cause, and stops at CAUSE_DEPTH", () => {
  let error: unknown = "the root cause";
  for (let level = 1; level <= CAUSE_DEPTH + 2; level++) {
    error = new Error(`level ${level}`, { cause: error });
  }
  const text = stackWithCauses(error);
  assert.ok(text.startsWith(`Error: level ${CAUSE_DEPTH + 2}\n    at `), text);
  assert.equal(text.split("Caused by: ").length, CAUSE_DEPTH);
  assert.ok(!text.includes("the root cause"));
  assert.equal(stackWithCauses("text"), "text");
  assert.equal(stackWithCauses(new Error("a", { cause: "b" })).endsWith("\nCaused by: b"), true);
});
