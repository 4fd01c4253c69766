/**
 * The deadline every test runs under (`tests/support/test_deadline.ts`,
 * preloaded by the test task): an await that never settles fails the test
 * with TimedOut instead of hanging the suite; every form of `Deno.test`
 * keeps its name and options.
 */

import assert from "node:assert/strict";
import { ROOT } from "../scripts/permissions.ts";
import {
  DEFAULT_TEST_DEADLINE_MS,
  testDeadlineMs,
  testDefinition,
  withTestDeadline,
} from "./support/test_deadline.ts";

Deno.test("an await that never settles fails at the deadline, naming the test", async () => {
  const hung = withTestDeadline("hangs", () => new Promise<void>(() => {}), 50);
  await assert.rejects(
    async () => await hung({} as Deno.TestContext),
    (error: Error) =>
      error instanceof Deno.errors.TimedOut && /the test "hangs".*50 ms/.test(error.message),
  );
});

Deno.test("a test within its deadline passes, and its own failure stays its own", async () => {
  await withTestDeadline("quick", async () => {}, 1000)({} as Deno.TestContext);
  const failing = withTestDeadline("fails", () => {
    throw new RangeError("its own");
  }, 1000);
  await assert.rejects(async () => await failing({} as Deno.TestContext), RangeError);
});

Deno.test("a hung test fails at its deadline, where it was declared, and the run goes on", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--no-prompt",
      "--preload=tests/support/test_deadline.ts",
      "--allow-net=127.0.0.1",
      "--allow-env=FT_TEST_DEADLINE_MS",
      "tests/fixtures/hanging_tests.ts",
    ],
    cwd: ROOT,
    env: { FT_TEST_DEADLINE_MS: "1000", NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 1, output);
  assert.match(output, /hangs on accept => \.\/tests\/fixtures\/hanging_tests\.ts:4:6/);
  assert.match(output, /TimedOut: Cannot finish the test "hangs on accept" within its deadline/);
  assert.match(output, /passes after \.\.\. ok/);
  assert.match(output, /2 passed.*1 failed/);
});

Deno.test("each form of Deno.test stands for one definition", async (t) => {
  const fn = function named() {};
  const cases: [string, unknown[], Partial<Deno.TestDefinition>][] = [
    ["definition", [{ name: "a", fn, ignore: true }], { name: "a", ignore: true }],
    ["name, fn", ["b", fn], { name: "b" }],
    ["name, options, fn", ["c", { sanitizeOps: false }, fn], { name: "c", sanitizeOps: false }],
    ["fn", [fn], { name: "named" }],
    ["options, fn", [{ only: false }, fn], { name: "named", only: false }],
  ];
  for (const [form, args, expected] of cases) {
    await t.step(form, () => {
      const definition = testDefinition(args);
      assert.equal(definition.fn, fn);
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(definition[key as keyof Deno.TestDefinition], value);
      }
    });
  }
});

Deno.test("FT_TEST_DEADLINE_MS sets the deadline; anything but a whole number is refused", () => {
  assert.equal(testDeadlineMs(undefined), DEFAULT_TEST_DEADLINE_MS);
  assert.equal(testDeadlineMs(""), DEFAULT_TEST_DEADLINE_MS);
  assert.equal(testDeadlineMs("60000"), 60_000);
  for (const bad of ["0", "-1", "1.5", "soon", "1e6"]) {
    assert.throws(() => testDeadlineMs(bad), RangeError, bad);
  }
});
