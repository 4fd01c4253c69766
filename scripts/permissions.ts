/**
 * The permissions each program runs with: baked into the executables by
 * `compile.ts`, and given by the tests and benchmarks that run
 * `client/main.ts` and `server/main.ts` as processes, so all of them allow
 * exactly the same things. Its own module, so that importing the flags does
 * not import the build script.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The client's permissions. Its server's host comes from `transfer.info` and
 * its folder may be the working directory or the executable's folder, and the
 * file may be anywhere, so none of these can be narrowed at build time:
 * network (connect to the server), read (its folder, the file, and
 * `Deno.execPath()`), write (`me.info`, `priv.key` in its folder).
 */
export const CLIENT_PERMISSION_FLAGS: readonly string[] = [
  "--no-prompt",
  "--allow-net",
  "--allow-read",
  "--allow-write",
];

/** The server's permission flags when deno.json has no `server` task. */
export const FALLBACK_SERVER_PERMISSION_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-read=.",
  "--allow-write=.",
  "--allow-env",
];

/**
 * The permission flags of a `deno run [flags] <script> [args]` task line,
 * with `--no-prompt` and `--v8-flags=…`, which a binary needs baked in too.
 *
 * A task runs the server with `--dir <folder>` and scopes read/write to that
 * folder; the compiled server has no baked-in `--dir`, so its data folder is
 * its working directory: scoped paths equal to the task's `--dir` become `.`.
 */
export function permissionFlagsOfTask(task: string): string[] {
  const words = task.trim().split(/\s+/);
  const script = words.findIndex((word, i) => i >= 2 && !word.startsWith("-"));
  const args = script === -1 ? [] : words.slice(script + 1);
  const dirAt = args.indexOf("--dir");
  const dir = dirAt === -1 ? undefined : args[dirAt + 1]?.replace(/\/$/, "");
  const flags: string[] = [];
  for (const word of words.slice(2, script === -1 ? undefined : script)) {
    const match = /^(--(?:allow|deny)-[a-z]+)(?:=(.*))?$/.exec(word);
    if (match === null) {
      // The server asks V8 for young-generation collections (server/upload/memory.ts).
      if (word === "--no-prompt" || word.startsWith("--v8-flags=")) flags.push(word);
      continue;
    }
    const [, name, list] = match;
    if (list === undefined) {
      flags.push(name!);
      continue;
    }
    const paths = list.split(",").map((path) => path.replace(/\/$/, "") === dir ? "." : path);
    flags.push(`${name}=${[...new Set(paths)].join(",")}`);
  }
  return flags;
}

/**
 * The server's permissions, with `--no-prompt`: those of the `server` task in
 * deno.json (see {@linkcode permissionFlagsOfTask}), so `deno task server` and
 * `dist/server` allow the same things.
 */
export function serverPermissionFlags(denoJsonText?: string): string[] {
  const text = denoJsonText ?? Deno.readTextFileSync(join(ROOT, "deno.json"));
  const task = (JSON.parse(text) as { tasks?: Record<string, string> }).tasks?.server;
  const flags = task === undefined
    ? [...FALLBACK_SERVER_PERMISSION_FLAGS]
    : permissionFlagsOfTask(task);
  return flags.includes("--no-prompt") ? flags : ["--no-prompt", ...flags];
}
