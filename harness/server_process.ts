/**
 * Runs `server/main.ts` as a child process, for the tests, benchmarks and
 * soak runs that need the real program: its command line, its signals, its
 * memory, its speed. One launcher, so that all of them start the server the
 * same way, with the permissions the program ships with, and learn its port
 * the same way: the server is told `--port 0` (and `--secure-port 0`) and the
 * bound ports are read back from its "Listening on" log line, never a port
 * checked free and then handed over (another process may take it in between).
 *
 * | `as`               | permissions                                                   | data folder                 |
 * |--------------------|---------------------------------------------------------------|-----------------------------|
 * | `"task"` (default) | the `server` task's flags, read/write scoped to the data folder | `--dir <dir>`             |
 * | `"compiled"`       | the compiled server's flags exactly (`serverPermissionFlags`)  | `<dir>` as working directory |
 *
 * The port is read from the log, so the server must log at `info` or below:
 * {@linkcode ServerProcess.start} refuses `--log-level warning` and above.
 *
 * @example
 * ```ts ignore
 * import { ServerProcess } from "./server_process.ts";
 * const dir = await Deno.makeTempDir();
 * await using server = await ServerProcess.start(dir, ["--host", "127.0.0.1", "--port", "0"]);
 * console.log(server.port, server.securePort);
 * ```
 *
 * @module
 */

import { withDeadline } from "../common/deadline.ts";
import { errorMessage } from "../common/error_message.ts";
import { ROOT, serverPermissionFlags } from "../scripts/permissions.ts";
import { join } from "node:path";

/** The server's entry point. */
export const SERVER_MAIN: string = join(ROOT, "server/main.ts");
/** How long a server may take to say it listens. */
const START_TIMEOUT_MS = 20_000;
/** Log levels at which the "Listening on" line (info) is not written. */
const QUIET_LEVELS = new Set(["warning", "error", "fatal"]);

/** How to spawn a server process. */
export interface SpawnOptions {
  /** Which permissions and data folder (see the module table); default `"task"`. */
  as?: "task" | "compiled";
  /** Largest file the process may write, in bytes (rounded up to 512): a disk that fills up. */
  fileSizeLimit?: number;
  /** Most open files (soft and hard limit): a tight descriptor budget. */
  openFileLimit?: number;
  /** Environment variables to add (such as the storage settings). */
  env?: Record<string, string>;
  /** Whether the server may read the environment (`--allow-env`, as the task); default true. */
  allowEnv?: boolean;
  /**
   * Print the server's warnings and errors on this process's stderr as they
   * come (a benchmark shows what went wrong; a test reads `stderr` instead).
   */
  echoWarnings?: boolean;
  /** Called with each line the server writes to stderr, as it comes (a benchmark reads its log). */
  onLine?: (line: string) => void;
}

/** `flag` with the working directory (`.`) in its path list replaced by `dir`. */
function scopedTo(flag: string, dir: string): string {
  const match = /^(--allow-(?:read|write))=(.*)$/.exec(flag);
  if (match === null) return flag;
  const paths = match[2]!.split(",").map((path) => path === "." ? dir : path);
  return `${match[1]}=${paths.join(",")}`;
}

/** A server child process. */
export class ServerProcess implements AsyncDisposable {
  /** The child. */
  readonly child: Deno.ChildProcess;
  /** The port it listens on, once {@linkcode ServerProcess.start} resolved. */
  port = 0;
  /** The secure mode's port, once the server said it listens there. */
  securePort: number | undefined;
  #stderr = "";
  #stderrDone: Promise<void>;
  #listening: Promise<void>;

  private constructor(child: Deno.ChildProcess, options: SpawnOptions, secure: boolean) {
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
      let scanned = 0; // complete lines before this offset have been looked at
      for await (const chunk of child.stderr) {
        this.#stderr += decoder.decode(chunk, { stream: true });
        const end = this.#stderr.lastIndexOf("\n") + 1;
        for (const line of this.#stderr.slice(scanned, end).split("\n").slice(0, -1)) {
          this.#readPorts(line);
          if (this.port !== 0 && (!secure || this.securePort !== undefined)) resolveListening();
          if (options.echoWarnings && /^\[(WRN|ERR|FTL)\]/.test(line)) console.error(line);
          options.onLine?.(line);
        }
        scanned = Math.max(scanned, end);
      }
      rejectListening(new Error(`The server exited before listening:\n${this.#stderr}`));
    })();
  }

  /** Reads the bound ports from a log line, the first time each is said. */
  #readPorts(line: string): void {
    const secure = /Secure mode \(TLS\) on .*?:(\d+)[ ;]/.exec(line);
    if (secure !== null && this.securePort === undefined) this.securePort = Number(secure[1]);
    const plain = /Listening on .*?:(\d+)[ ;]/.exec(line);
    if (plain !== null && this.port === 0) this.port = Number(plain[1]);
  }

  /**
   * Spawns the server with `args` (after `server/main.ts`) and the
   * permissions of `options.as` for the data folder `dir`. Without
   * `--secure-port` or `--no-secure` in `args`, the secure port is any free
   * one (`--secure-port 0`).
   */
  static spawn(dir: string, args: string[], options: SpawnOptions = {}): ServerProcess {
    const compiled = options.as === "compiled";
    const flags = serverPermissionFlags()
      .filter((flag) => options.allowEnv !== false || flag !== "--allow-env")
      .map((flag) => compiled ? flag : scopedTo(flag, dir));
    // With a file size limit, a shell sets it (`ulimit -f`, 512-byte blocks) and ignores
    // SIGXFSZ, so a write past the limit fails with EFBIG as on a full disk. With an
    // open files limit, the shell sets it too (`ulimit -n`: soft and hard).
    const shell: string[] = [];
    if (options.fileSizeLimit !== undefined) {
      shell.push(`trap '' XFSZ; ulimit -f ${Math.ceil(options.fileSizeLimit / 512)}`);
    }
    if (options.openFileLimit !== undefined) shell.push(`ulimit -n ${options.openFileLimit}`);
    const limit = shell.length === 0
      ? []
      : ["-c", `${shell.join("; ")}; exec "$@"`, "sh", Deno.execPath()];
    const child = new Deno.Command(limit.length === 0 ? Deno.execPath() : "sh", {
      args: [
        ...limit,
        "run",
        ...flags,
        SERVER_MAIN,
        ...(compiled ? [] : ["--dir", dir]),
        ...args,
        // The secure port is the plain one plus one by default, which nobody
        // can reserve: any free port, unless the caller chose.
        ...(args.some((arg) => /^--(secure-port|no-secure)/.test(arg))
          ? []
          : ["--secure-port", "0"]),
      ],
      ...(compiled ? { cwd: dir } : {}),
      ...(options.env === undefined ? {} : { env: options.env }),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    return new ServerProcess(child, options, !args.includes("--no-secure"));
  }

  /**
   * Spawns the server and waits until it says it listens: on its port and,
   * unless `--no-secure`, on its secure port; `port` and `securePort` are
   * then known.
   *
   * @throws {RangeError} if `args` set a log level that hides the "Listening
   * on" line.
   * @throws {Error} with the server's stderr if it exits or stays silent
   * for 20 seconds instead (it is killed then).
   */
  static async start(
    dir: string,
    args: string[],
    options: SpawnOptions = {},
  ): Promise<ServerProcess> {
    const level = args[args.indexOf("--log-level") + 1];
    if (args.includes("--log-level") && level !== undefined && QUIET_LEVELS.has(level)) {
      throw new RangeError(
        `Cannot start a server at --log-level ${level}: its port is read from an info line`,
      );
    }
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

  /** Stops the server (SIGTERM) and waits for it: `await using server = ...`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
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
