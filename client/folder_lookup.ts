/**
 * Where the client looks for its folder (the one holding `transfer.info`,
 * `me.info` and `priv.key`). Pure: the caller passes the working directory,
 * the executable's path and whether it runs as a compiled binary, then checks
 * the candidates in order.
 *
 * - `--dir` given: only that folder (relative to the working directory);
 * - otherwise the working directory, then, for a compiled client (for
 *   example one started by a double click, whose working directory is the
 *   user's home), the folder of the executable.
 *
 * @module
 */

import { dirname, resolve } from "node:path";

/** What the lookup depends on. */
export interface FolderLookupInput {
  /** The `--dir` option, when given. */
  dir?: string | undefined;
  /** The working directory. */
  cwd: string;
  /** The path of the running executable (`Deno.execPath()`). */
  execPath: string;
  /** Whether this is a compiled binary (`Deno.build.standalone`). */
  standalone: boolean;
}

/** The folders to look for `transfer.info` in, in order, without duplicates. */
export function candidateFolders(input: FolderLookupInput): string[] {
  if (input.dir !== undefined) return [resolve(input.cwd, input.dir)];
  const folders = [resolve(input.cwd)];
  if (input.standalone) {
    const beside = resolve(dirname(input.execPath));
    if (!folders.includes(beside)) folders.push(beside);
  }
  return folders;
}
