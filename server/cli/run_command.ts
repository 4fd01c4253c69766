/**
 * The `deno run` command line that starts `server/main.ts` on a data folder
 * with the permissions of the `server` task in deno.json, read and write
 * scoped to that folder: what the server suggests when a folder is out of its
 * reach, and what `deno task services` prints for each instance. One builder,
 * so the two never disagree with each other or with the task
 * (`tests/compile_permissions_test.ts` holds it to the task's flags).
 *
 * | flag                                   | why                                         |
 * | -------------------------------------- | ------------------------------------------- |
 * | `--no-prompt`                          | a missing permission fails, never prompts   |
 * | `--allow-net`                          | the listeners, PostgreSQL, S3               |
 * | `--allow-env`                          | the storage settings (`FT_*`, `AWS_*`)      |
 * | `--allow-read=DIR`, `--allow-write=DIR` | the data folder only                        |
 * | `--v8-flags=--expose-gc`               | young-generation collections (upload/memory.ts) |
 *
 * @module
 */

/**
 * The permission and V8 flags of the `server` task in deno.json, with read
 * and write scoped to `dir`.
 *
 * @example
 * ```ts
 * import { serverRunFlags } from "./run_command.ts";
 * console.log(serverRunFlags(".data").includes("--allow-write=.data")); // true
 * ```
 */
export function serverRunFlags(dir: string): string[] {
  return [
    "--no-prompt",
    "--allow-net",
    "--allow-env",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    "--v8-flags=--expose-gc",
  ];
}

/**
 * `deno run` with {@linkcode serverRunFlags} for `dir`, then `main` (the
 * server's entry point), `args` and `--dir dir`, as one line a POSIX shell
 * runs as printed.
 *
 * @example
 * ```ts
 * import { serverRunCommand } from "./run_command.ts";
 * console.log(serverRunCommand("server/main.ts", "my data", ["--port", "0"]));
 * // deno run --no-prompt ... '--allow-read=my data' ... server/main.ts --port 0 --dir 'my data'
 * ```
 */
export function serverRunCommand(main: string, dir: string, args: readonly string[]): string {
  return ["deno", "run", ...serverRunFlags(dir), main, ...args, "--dir", dir].map(shellWord)
    .join(" ");
}

/** `word` as a POSIX shell reads it back: quoted when it holds anything but safe characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
