/**
 * Runs `client/main.ts` as a child process with exactly the permissions the
 * compiled client gets (`CLIENT_PERMISSION_FLAGS`), and prepares its folder:
 * one launcher for the tests and the benchmarks.
 *
 * - {@linkcode runClient}: run it to the end, collect its exit code and
 *   output.
 * - {@linkcode ClientProcess.spawn}: the child itself, for a benchmark that
 *   watches its memory and CPU while it runs.
 * - {@linkcode writeTransferInfo}: a client folder's `transfer.info` for a
 *   server on 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * import { runClient, writeTransferInfo } from "./client_process.ts";
 * await writeTransferInfo("/tmp/alice", 1256, "Alice", "report.pdf");
 * const run = await runClient(["--dir", "/tmp/alice"]);
 * console.log(run.code, run.stderr);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { CLIENT_PERMISSION_FLAGS, ROOT } from "../scripts/permissions.ts";

/** What a client run produced. */
export interface ClientRun {
  /** Exit code. */
  code: number;
  /** Everything on stdout. */
  stdout: string;
  /** Everything on stderr. */
  stderr: string;
}

/** The path of the client's entry point. */
export const CLIENT_MAIN: string = join(ROOT, "client/main.ts");

/** How to run the client. */
export interface ClientOptions {
  /** The working directory; a new temporary folder by default. */
  cwd?: string;
  /**
   * Add `--retry-delay 20` (fast retries, for tests); default true. Off for
   * a run that must be the client exactly as users run it.
   */
  fastRetries?: boolean;
}

/** A client child process with its output piped. */
export class ClientProcess {
  /** The child. */
  readonly child: Deno.ChildProcess;

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
  }

  /** Spawns the client with `args`, stdin closed (see {@linkcode ClientOptions}). */
  static spawn(args: string[], options: ClientOptions = {}): ClientProcess {
    const extra = options.fastRetries === false ? [] : ["--retry-delay", "20"];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...CLIENT_PERMISSION_FLAGS, CLIENT_MAIN, ...args, ...extra],
      cwd: options.cwd ?? Deno.makeTempDirSync({ prefix: "client-cwd-" }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new ClientProcess(child);
  }

  /** Waits for the exit; resolves to the exit code and everything it printed. */
  async finished(): Promise<ClientRun> {
    const [status, stdout, stderr] = await Promise.all([
      this.child.status,
      new Response(this.child.stdout).text(),
      new Response(this.child.stderr).text(),
    ]);
    return { code: status.code, stdout, stderr };
  }
}

/**
 * Runs the client with `args` to its end, in `options.cwd` (a new temporary
 * folder by default), with stdin closed. Fast retries unless
 * `options.fastRetries` is false.
 */
export function runClient(args: string[], options: ClientOptions = {}): Promise<ClientRun> {
  return ClientProcess.spawn(args, options).finished();
}

/**
 * Writes `transfer.info` for a server on 127.0.0.1:`port` into `dir`
 * (created if needed), and, when `contents` is given, the file to send.
 */
export async function writeTransferInfo(
  dir: string,
  port: number,
  name: string,
  filePath: string,
  contents?: Uint8Array,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  if (contents !== undefined) await Deno.writeFile(join(dir, filePath), contents);
  await Deno.writeTextFile(join(dir, "transfer.info"), `127.0.0.1:${port}\n${name}\n${filePath}\n`);
}
