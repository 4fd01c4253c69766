/**
 * A URL as it may be logged or shown: with its password replaced by `***`.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./redact_url.ts";
 * console.log(redactUrl("postgres://ft:secret@db:5432/ft")); // postgres://ft:***@db:5432/ft
 * ```
 *
 * @module
 */

/** `url` without its password; a text that does not parse as a URL is not echoed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(an unparsable URL)";
  }
}
