/**
 * How a failure reaches the user: an expected failure is one line built from
 * its parts; a missing permission is one line too; anything else is a bug,
 * printed with its stack, and exits 70.
 */

import assert from "node:assert/strict";
import {
  ClientError,
  ConfigError,
  CrcError,
  ExitCode,
  NetworkError,
  RejectedError,
  reportFailure,
} from "../client/client_error.ts";

const PARTS = { action: "send f.bin", reason: "it went wrong", hint: "Try again" };

Deno.test("each expected failure has its class, its exit code and one line from its parts", async (t) => {
  const cases: [ClientError, number][] = [
    [new ConfigError(PARTS), ExitCode.Config],
    [new NetworkError(PARTS), ExitCode.Network],
    [new RejectedError(PARTS), ExitCode.Rejected],
    [new CrcError(PARTS), ExitCode.Crc],
  ];
  for (const [error, exitCode] of cases) {
    await t.step(error.name, () => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.message, "Cannot send f.bin: it went wrong. Try again");
      assert.deepEqual([error.action, error.reason, error.hint], [
        PARTS.action,
        PARTS.reason,
        PARTS.hint,
      ]);
      assert.deepEqual(reportFailure(error), {
        text: "client: Cannot send f.bin: it went wrong. Try again",
        exitCode,
      });
    });
  }
});

Deno.test("a network failure is retryable unless said otherwise", () => {
  assert.equal(new NetworkError(PARTS).retryable, true);
  assert.equal(new NetworkError(PARTS, { retryable: false }).retryable, false);
});

Deno.test("a missing permission is one line with exit code 2", () => {
  const report = reportFailure(new Deno.errors.NotCapable("Requires net access"));
  assert.equal(report.exitCode, ExitCode.Config);
  assert.match(
    report.text,
    /^client: Cannot run: a permission is missing \(Requires net access\)\. /,
  );
  assert.equal(report.text.split("\n").length, 1);
});

Deno.test("anything else is a bug: its stack, and exit code 70", async (t) => {
  for (
    const error of [new TypeError("x is undefined"), new Deno.errors.PermissionDenied("EACCES")]
  ) {
    await t.step(error.name, () => {
      const report = reportFailure(error);
      assert.equal(report.exitCode, ExitCode.Bug);
      assert.equal(ExitCode.Bug, 70);
      assert.match(report.text, /^client: Bug: an unexpected error; please report it/);
      assert.ok(report.text.includes(error.stack!), "the stack is printed");
    });
  }
  await t.step("its causes follow, as the server prints them", () => {
    const inner = new RangeError("inner");
    const report = reportFailure(new TypeError("outer", { cause: inner }));
    assert.ok(report.text.includes(`\nCaused by: ${inner.stack}`), report.text);
  });
  assert.match(reportFailure("a string").text, /a string$/);
});
