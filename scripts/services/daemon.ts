/**
 * What the throwaway services (PostgreSQL, Ceph, HAProxy) have in common:
 * finding their programs, running each daemon in the foreground as a child of
 * this process, waiting for it with a bound, and stopping it. A failure names
 * the service and ends with the tail of its log, so a broken start-up says why.
 *
 * @module
 */

import { join } from "node:path";

/** How long one daemon may take to become ready, by default. */
export const DEFAULT_READY_TIMEOUT_MS = 30_000;
/** How long a daemon may take to exit after SIGTERM before it gets SIGKILL. */
export const STOP_TIMEOUT_MS = 10_000;
/** How many lines of a log a failure shows. */
const LOG_TAIL_LINES = 30;

/** A service could not be found, started or reached. */
export class ServiceError extends Error {
  /**
   * Creates the error.
   *
   * @param message `Cannot <action>: <reason>`, possibly followed by a log tail.
   * @param options Standard error options.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ServiceError";
  }
}

/** Folders searched for programs beyond `PATH`: Debian's sbin and PostgreSQL's versioned bin. */
function extraFolders(): string[] {
  const folders = ["/usr/sbin", "/sbin", "/usr/local/sbin"];
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((entry) => entry.name)
      .filter((name) => /^[0-9]+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) folders.push(`/usr/lib/postgresql/${version}/bin`);
  } catch {
    // No PostgreSQL server package here.
  }
  return folders;
}

/** The full path of `program`, from `PATH` or the usual Debian folders, if any. */
export function findProgram(program: string): string | undefined {
  const path = Deno.env.get("PATH") ?? "";
  for (const folder of [...path.split(":").filter((f) => f !== ""), ...extraFolders()]) {
    const candidate = join(folder, program);
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // Not there.
    }
  }
  return undefined;
}

/** Like {@linkcode findProgram}, but throws when the program is missing. */
export function requireProgram(program: string, debianPackage: string): string {
  const found = findProgram(program);
  if (found === undefined) {
    throw new ServiceError(
      `Cannot find ${program}: install the Debian package ${debianPackage} (apt-get install ${debianPackage})`,
    );
  }
  return found;
}

/** The last lines of a log file, or a note that there is none. */
export async function logTail(path: string, lines = LOG_TAIL_LINES): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    const all = text.trimEnd().split("\n");
    return `--- last ${Math.min(lines, all.length)} lines of ${path} ---\n` +
      all.slice(-lines).join("\n");
  } catch {
    return `(no log at ${path})`;
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Runs a program to completion; throws with its output when it fails. */
export async function run(
  program: string,
  args: string[],
  what: string,
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const child = new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.env === undefined ? {} : { env: options.env }),
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, timeoutMs);
  const { code, signal, stdout, stderr } = await child.output().finally(() => clearTimeout(timer));
  const out = new TextDecoder().decode(stdout);
  if (code !== 0) {
    const why = signal === "SIGKILL" ? `it took over ${timeoutMs} ms` : `exit code ${code}`;
    throw new ServiceError(
      `Cannot ${what}: ${why}\n$ ${program} ${args.join(" ")}\n${out}${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  return out;
}

/** A long-running daemon in the foreground, child of this process. */
export class Daemon {
  /** Its name in messages. */
  readonly name: string;
  /** Where it logs. */
  readonly logPath: string;
  #child: Deno.ChildProcess;
  #exited = false;
  #status: Promise<Deno.CommandStatus>;

  private constructor(name: string, logPath: string, child: Deno.ChildProcess) {
    this.name = name;
    this.logPath = logPath;
    this.#child = child;
    this.#status = child.status.finally(() => this.#exited = true);
  }

  /**
   * Spawns `program args`, its stdout and stderr appended to `logPath`
   * (through `sh`, so nothing has to drain a pipe).
   */
  static spawn(name: string, program: string, args: string[], logPath: string): Daemon {
    const child = new Deno.Command("sh", {
      args: ["-c", 'log="$1"; shift; exec "$@" >>"$log" 2>&1', "sh", logPath, program, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return new Daemon(name, logPath, child);
  }

  /** Its process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether it has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /**
   * Polls `ready` every `intervalMs` until it returns true. Throws a
   * {@linkcode ServiceError} with the log tail when the daemon exits first or
   * `timeoutMs` passes.
   */
  async waitUntil(
    what: string,
    ready: () => Promise<boolean>,
    timeoutMs = DEFAULT_READY_TIMEOUT_MS,
    intervalMs = 25,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      if (await ready()) return;
      if (this.#exited) {
        const status = await this.#status;
        throw new ServiceError(
          `Cannot start ${this.name}: it exited (code ${status.code}) before ${what}\n${await logTail(
            this.logPath,
          )}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new ServiceError(
          `Cannot start ${this.name}: not ${what} after ${timeoutMs} ms\n${await logTail(
            this.logPath,
          )}`,
        );
      }
      await sleep(intervalMs);
    }
  }

  /** Sends SIGKILL at once (a crash); resolves when it is gone. */
  async kill(): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.#status;
  }

  /** Sends `signal`, then SIGKILL if it is still there after {@linkcode STOP_TIMEOUT_MS}. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.#status, late]);
    clearTimeout(timer);
    if (outcome === "late") await this.kill();
  }
}

/**
 * A fresh temporary folder for one service, owned by `owner` (a user name)
 * when given: PostgreSQL refuses to run as root.
 */
export async function serviceFolder(prefix: string, owner?: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `ft_${prefix}_` });
  if (owner !== undefined) await run("chown", [owner, dir], `give ${dir} to ${owner}`);
  return dir;
}

/**
 * Removes a service folder; never fails (a leftover temporary folder is
 * harmless). With `FT_KEEP_SERVICE_DIRS=1` in the environment, keeps it (and
 * its logs) and says where it is.
 */
export async function removeFolder(dir: string): Promise<void> {
  if (Deno.env.get("FT_KEEP_SERVICE_DIRS") === "1") {
    console.error(`FT_KEEP_SERVICE_DIRS: kept ${dir}`);
    return;
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
