/**
 * The text of a 1601, 1606 or 1607 answer, cut to {@linkcode MAX_ERROR_TEXT}
 * characters so that an answer never grows with what a client sent.
 *
 * @example
 * ```ts
 * import { shortText } from "./short_text.ts";
 *
 * console.assert(shortText("x".repeat(300)).length === 200);
 * ```
 *
 * @module
 */

/** Longest 1607 text. */
export const MAX_ERROR_TEXT = 200;

/** `text`, cut to {@linkcode MAX_ERROR_TEXT} characters with `...` when longer. */
export function shortText(text: string): string {
  return text.length <= MAX_ERROR_TEXT ? text : `${text.slice(0, MAX_ERROR_TEXT - 3)}...`;
}
