/**
 * Where the client looks for its folder (the one holding `transfer.info`,
 * `me.info` and `priv.key`). Pure: the caller passes the working directory,
 * the executable's path and whether it runs as a compiled binary, then checks
 * the candidates in order.
 *
 * - `--dir` given: only that folder (relative to where the user typed the
 *   command);
 * - otherwise the folder where the user typed the command, then, for a
 *   compiled client (for example one started by a double click, whose
 *   working directory is the user's home), the folder of the executable.
 *
 * "Where the user typed the command" is {@linkcode invocationDirectory}:
 * `deno task client` runs in the repository's root, and says where it was
 * typed in `INIT_CWD`.
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "node:path";

/**
 * The folder where the user typed the command: `INIT_CWD` when the process
 * may read it (`deno task client` grants that, and `deno task` sets it to the
 * folder it was started in) and it is an absolute path, else the working
 * directory.
 */
export function invocationDirectory(): string {
  const access = Deno.permissions.querySync({ name: "env", variable: "INIT_CWD" });
  if (access.state === "granted") {
    const initCwd = Deno.env.get("INIT_CWD");
    if (initCwd !== undefined && isAbsolute(initCwd)) return initCwd;
  }
  return Deno.cwd();
}

/** What the lookup depends on. */
export interface FolderLookupInput {
  /** The `--dir` option, when given. */
  dir?: string | undefined;
  /** Where the user typed the command ({@linkcode invocationDirectory}). */
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
