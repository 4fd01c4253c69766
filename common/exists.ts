/**
 * Whether a path exists, for the places where its absence is an expected
 * answer rather than a failure.
 *
 * @module
 */

/**
 * Resolves to whether `path` exists (a file, a folder, anything `lstat`
 * finds; a link is not followed). Only `NotFound` means "no": any other
 * failure (a missing permission, say) is thrown.
 *
 * @example
 * ```ts ignore
 * import { exists } from "./exists.ts";
 * console.log(await exists("/tmp")); // true
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
