/**
 * Every test has a deadline, so that a regression that makes an await wait
 * forever fails that test, with its name, instead of hanging the suite.
 *
 * The `test` task preloads this module (`deno test --preload=...`, before
 * each test file): it wraps `Deno.test` so that each test's function races
 * its deadline; on expiry the test fails with `Deno.errors.TimedOut`.
 * Deno's sanitizers stay on, so whatever the hung test left open is
 * reported too. Within a test, {@linkcode within} (in `reliability.ts`)
 * gives one await a tighter deadline of its own.
 *
 * | deadline | for                                                                  |
 * |----------|----------------------------------------------------------------------|
 * | `FT_TEST_DEADLINE_MS` | when set (a whole number of ms): every test            |
 * | 600 s    | otherwise: the slowest tests (800 MB uploads, starting Ceph) on 2 loaded cores |
 *
 * `deno task test:fast` sets 60 s: its tests take seconds.
 *
 * @module
 */

import { withDeadline } from "../../common/deadline.ts";

/** The deadline of each test when `FT_TEST_DEADLINE_MS` does not say. */
export const DEFAULT_TEST_DEADLINE_MS = 600_000;

type TestFn = (t: Deno.TestContext) => void | Promise<void>;
type Options = Omit<Deno.TestDefinition, "fn" | "name">;

/** The deadline from `FT_TEST_DEADLINE_MS`, or the default. */
export function testDeadlineMs(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_TEST_DEADLINE_MS;
  if (!/^[1-9][0-9]{0,8}$/.test(value)) {
    throw new RangeError(`Cannot use FT_TEST_DEADLINE_MS=${value}: write a whole number of ms`);
  }
  return Number(value);
}

/** `fn`, failing with `Deno.errors.TimedOut` when it runs longer than `ms`. */
export function withTestDeadline(name: string, fn: TestFn, ms: number): TestFn {
  return (t) =>
    withDeadline(Promise.resolve().then(() => fn(t)), ms, {
      message: `Cannot finish the test "${name}" within its deadline of ${ms} ms: ` +
        "an await that never settles? (FT_TEST_DEADLINE_MS sets the deadline)",
    });
}

/** The one definition that each form of `Deno.test(...)` stands for. */
export function testDefinition(args: unknown[]): Deno.TestDefinition {
  const [first, second, third] = args;
  if (typeof first === "function") return { name: first.name, fn: first as TestFn };
  if (typeof first === "string") {
    return typeof second === "function"
      ? { name: first, fn: second as TestFn }
      : { ...(second as Options), name: first, fn: third as TestFn };
  }
  if (typeof second === "function") {
    const options = first as Options & { name?: string };
    return { ...options, name: options.name ?? second.name, fn: second as TestFn };
  }
  return first as Deno.TestDefinition;
}

/**
 * Replaces `Deno.test` (and `.only`, `.ignore`) with versions that give each
 * test the deadline. Deno records where a test was declared from the first
 * `file:` frame on the stack when `Deno.test` is called; so that this stays
 * the test file's own line, and not this module's, the replacement is
 * defined in a `data:` module (whose frames Deno passes over): on the stack
 * when Deno's own `Deno.test` runs are only the test file and that module.
 */
async function install(ms: number): Promise<void> {
  const prepare = (args: unknown[]): Deno.TestDefinition => {
    const definition = testDefinition(args);
    return { ...definition, fn: withTestDeadline(definition.name, definition.fn, ms) };
  };
  const { install } = await import(`data:text/javascript,${encodeURIComponent(REGISTRAR)}`);
  (install as (prepare: (args: unknown[]) => Deno.TestDefinition) => void)(prepare);
}

/** The `data:` module's source: `Deno.test` replaced, calling Deno's with `prepare(args)`. */
const REGISTRAR = `
export function install(prepare) {
  const original = Deno.test;
  const test = function (...args) { return original(prepare(args)); };
  test.only = function (...args) { return original({ ...prepare(args), only: true }); };
  test.ignore = function (...args) { return original({ ...prepare(args), ignore: true }); };
  Deno.test = test;
}
`;

const allowed = Deno.permissions.querySync({ name: "env", variable: "FT_TEST_DEADLINE_MS" });
await install(
  testDeadlineMs(allowed.state === "granted" ? Deno.env.get("FT_TEST_DEADLINE_MS") : undefined),
);
