/**
 * Runs `server/main.ts` as a child process, the way `deno task server` does,
 * for tests of the command line, signals and memory use.
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import { fileURLToPath } from "node:url";
import { withDeadline } from "../../common/deadline.ts";

const MAIN = fileURLToPath(new URL("../../server/main.ts", import.meta.url));
/** How long a server may take to say it listens. */
const START_TIMEOUT_MS = 20_000;

/** How to spawn a server process. */
export interface SpawnOptions {
  /** Largest file the process may write, in bytes (rounded up to 512): a disk that fills up. */
  fileSizeLimit?: number;
  /** Most open files (soft and hard limit): a tight descriptor budget. */
  openFileLimit?: number;
  /** Environment variables to add (such as the storage settings). */
  env?: Record<string, string>;
  /** Whether the server may read the environment (`--allow-env`, as the task); default true. */
  allowEnv?: boolean;
}

/** A server child process. */
export class ServerProcess {
  /** The child. */
  readonly child: Deno.ChildProcess;
  /** The port it listens on, once {@linkcode ServerProcess.start} resolved. */
  port = 0;
  #stderr = "";
  #stderrDone: Promise<void>;
  #listening: Promise<void>;

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
    let resolveListening!: () => void;
    let rejectListening!: (error: Error) => void;
    this.#listening = new Promise((resolve, reject) => {
      resolveListening = resolve;
      rejectListening = reject;
    });
    this.#listening.catch(() => {}); // only start() waits for it
    this.#stderrDone = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.#stderr += decoder.decode(chunk, { stream: true });
        const match = /Listening on .*?:(\d+)[ ;]/.exec(this.#stderr);
        if (match !== null && this.port === 0) {
          this.port = Number(match[1]);
          resolveListening();
        }
      }
      rejectListening(new Error(`The server exited before listening:\n${this.#stderr}`));
    })();
  }

  /**
   * Spawns the server with `args` (after `server/main.ts`) and the given
   * permission flags for `dir`.
   */
  static spawn(dir: string, args: string[], options: SpawnOptions = {}): ServerProcess {
    // With a file size limit, a shell sets it (`ulimit -f`, 512-byte blocks) and ignores
    // SIGXFSZ, so a write past the limit fails with EFBIG as on a full disk. With an
    // open files limit, the shell sets it too (`ulimit -n`: soft and hard).
    const shell: string[] = [];
    if (options.fileSizeLimit !== undefined) {
      shell.push(`trap '' XFSZ; ulimit -f ${Math.ceil(options.fileSizeLimit / 512)}`);
    }
    if (options.openFileLimit !== undefined) shell.push(`ulimit -n ${options.openFileLimit}`);
    const limit = shell.length === 0 ? [] : ["-c", `${shell.join("; ")}; exec "$@"`, "sh"];
    const child = new Deno.Command(limit.length === 0 ? Deno.execPath() : "sh", {
      args: [
        ...limit,
        ...(limit.length === 0 ? [] : [Deno.execPath()]),
        "run",
        "--no-prompt",
        "--allow-net",
        "--v8-flags=--expose-gc", // as the `server` task: see server/upload/memory.ts
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        // as the `server` task: storage settings (server/storage/storage_selection.ts)
        ...(options.allowEnv === false ? [] : ["--allow-env"]),
        MAIN,
        "--dir",
        dir,
        ...args,
        // The secure port is the plain one plus one by default, which a test
        // cannot reserve: any free port, unless the test chose.
        ...(args.some((arg) => /^--(secure-port|no-secure)/.test(arg))
          ? []
          : ["--secure-port", "0"]),
      ],
      ...(options.env === undefined ? {} : { env: options.env }),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    return new ServerProcess(child);
  }

  /** Spawns the server and waits until it listens. */
  static async start(
    dir: string,
    args: string[],
    options: SpawnOptions = {},
  ): Promise<ServerProcess> {
    const server = ServerProcess.spawn(dir, args, options);
    try {
      await withDeadline(server.#listening, START_TIMEOUT_MS, {
        message: `The server did not say it listens within ${START_TIMEOUT_MS} ms`,
      });
    } catch (error) {
      try {
        server.child.kill("SIGKILL");
      } catch {
        // It exited on its own.
      }
      await server.wait();
      throw new Error(`${errorMessage(error)}:\n${server.stderr}`, { cause: error });
    }
    return server;
  }

  /** Everything the server wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Waits for the process to exit; returns its status once stderr is drained. */
  async wait(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await this.#stderrDone;
    return status;
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    return await this.wait();
  }

  /**
   * Peak resident memory in bytes (Linux only), or `undefined`. Reads
   * `/proc/<pid>/status` through `cat`: Deno reads `/proc` only with
   * `--allow-all`, while the tests run with `--allow-run`.
   */
  async peakRss(): Promise<number | undefined> {
    if (Deno.build.os !== "linux") return undefined;
    const output = await new Deno.Command("cat", {
      args: [`/proc/${this.child.pid}/status`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const status = new TextDecoder().decode(output.stdout);
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match === null ? undefined : Number(match[1]) * 1024;
  }
}
