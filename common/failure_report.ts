/**
 * The one shape in which both programs report how they end: the exit code
 * and the text for stderr. An expected failure is one line; a bug is a
 * stack, followed by its causes' stacks up to {@linkcode CAUSE_DEPTH} deep,
 * each after `Caused by: `.
 *
 * | field      | holds                                                    |
 * |------------|----------------------------------------------------------|
 * | `exitCode` | the program's exit code (each program has its own table) |
 * | `text`     | what to print on stderr, without a final newline         |
 *
 * @module
 */

/** How a program ends: its exit code and what it prints on stderr. */
export interface FailureReport<Code extends number = number> {
  /** The exit code. */
  exitCode: Code;
  /** What to print on stderr, without a final newline. */
  text: string;
}

/** How many errors a bug report prints: the error and up to four causes. */
export const CAUSE_DEPTH = 5;

/**
 * The stack of `error` (its text when it is not an `Error`), then each
 * `cause` the same way after `Caused by: `, {@linkcode CAUSE_DEPTH} errors at
 * the most.
 *
 * @example
 * ```ts
 * import { stackWithCauses } from "./failure_report.ts";
 * const text = stackWithCauses(new TypeError("outer", { cause: new Error("inner") }));
 * console.assert(text.startsWith("TypeError: outer\n"));
 * console.assert(text.includes("\nCaused by: Error: inner\n"));
 * ```
 */
export function stackWithCauses(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < CAUSE_DEPTH; depth++) {
    const text = current instanceof Error ? current.stack ?? String(current) : String(current);
    lines.push(depth === 0 ? text : `Caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join("\n");
}
