/**
 * The message of anything thrown, without a cast: an `Error`'s `message`,
 * anything else as text. For building `Cannot <action>: <reason>` from a
 * caught error that is kept whole as the new error's `cause`.
 *
 * @module
 */

/**
 * The message of `error` if it is an `Error`, otherwise `error` as text.
 *
 * @example
 * ```ts
 * import { errorMessage } from "./error_message.ts";
 * console.assert(errorMessage(new RangeError("too big")) === "too big");
 * console.assert(errorMessage("a string") === "a string");
 * console.assert(errorMessage(undefined) === "undefined");
 * ```
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
