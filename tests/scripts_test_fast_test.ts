/**
 * `deno task test:fast` runs a list of files with the `test` task's own
 * flags, while `deno task test` (what the README and `.ci/run` run) stays
 * the whole folder: the list can never take a test out of the full suite,
 * and every file it names exists.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../scripts/permissions.ts";
import { FAST_TESTS, fastTestArgs, TEST_FOLDER, testTaskFlags } from "../scripts/test_fast.ts";

const denoJson = await Deno.readTextFile(join(ROOT, "deno.json"));

Deno.test("the full test task runs the whole tests/ folder, and README and CI run it", async () => {
  const tasks = (JSON.parse(denoJson) as { tasks: Record<string, string> }).tasks;
  assert.match(tasks.test!, new RegExp(`^deno test .* ${TEST_FOLDER}$`));
  assert.equal(tasks["test:fast"], "deno run --allow-read --allow-run scripts/test_fast.ts");
  assert.match(await Deno.readTextFile(join(ROOT, ".ci/run")), /^deno task test$/m);
  assert.match(
    await Deno.readTextFile(join(ROOT, "README.md")),
    /`deno task test` runs everything in `tests\/`/,
  );
});

Deno.test("every fast test file exists in tests/, once, in order", async () => {
  assert.deepEqual([...FAST_TESTS].sort(), FAST_TESTS, "sorted");
  assert.equal(new Set(FAST_TESTS).size, FAST_TESTS.length, "no file twice");
  for (const file of FAST_TESTS) {
    assert.match(file, /^tests\/[a-z0-9_]+_test\.ts$/);
    assert.ok((await Deno.stat(join(ROOT, file))).isFile, `${file} exists`);
  }
});

Deno.test("the fast run has exactly the test task's flags, and passes arguments on", () => {
  const flags = testTaskFlags(denoJson);
  assert.ok(flags.some((flag) => flag.startsWith("--allow-net=")));
  assert.deepEqual(fastTestArgs(denoJson, ["--filter", "golden"]), [
    "test",
    ...flags,
    "--filter",
    "golden",
    ...FAST_TESTS,
  ]);
  assert.throws(
    () => testTaskFlags(JSON.stringify({ tasks: { test: "deno test tests/a_test.ts" } })),
    SyntaxError,
  );
});
