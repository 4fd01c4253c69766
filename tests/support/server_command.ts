/**
 * Runs one of the server's commands (`server clients`, `server fingerprint`,
 * ...) as a process with the compiled server's permissions, as an operator
 * does, and collects what it printed.
 *
 * @module
 */

import { SERVER_MAIN } from "../../harness/server_process.ts";
import { serverPermissionFlags } from "../../scripts/permissions.ts";

/** How a server command ended. */
export interface ServerCommandRun {
  /** Its exit code. */
  code: number;
  /** What it printed on stdout. */
  stdout: string;
  /** What it printed on stderr. */
  stderr: string;
}

/**
 * Runs `server <args>` in `cwd` (its data folder unless `args` give
 * `--dir`), with `env` added to this process's environment.
 */
export async function runServerCommand(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<ServerCommandRun> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissionFlags(), SERVER_MAIN, ...args],
    cwd: options.cwd,
    ...(options.env === undefined ? {} : { env: options.env }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}
