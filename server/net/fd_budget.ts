/**
 * File descriptors as a budget: at start-up, the server checks that its
 * limit on open files holds `--max-connections` connections plus what the
 * rest of the process needs, and refuses to start otherwise. Running out is
 * not something the server can recover from: when a descriptor cannot be
 * opened, the Deno runtime itself may panic (issue 17: `EMFILE`, exit 1).
 *
 * | what                                 | descriptors                          |
 * |--------------------------------------|--------------------------------------|
 * | one connection (worst case: secure)  | {@linkcode DESCRIPTORS_PER_CONNECTION}: the socket, the two loopback sockets of its TLS relay (`tls_terminator.ts`), its staged file |
 * | everything else                      | {@linkcode RESERVED_DESCRIPTORS}: the runtime's own ({@linkcode RUNTIME_DESCRIPTORS}), listeners, the log, the registry (SQLite's files, or PostgreSQL's pool of 11), the S3 client's sockets, closed connections still passing on their last bytes |
 *
 * How the limit is known and raised, with the fewest permissions: the Deno
 * runtime raises its soft limit to the hard limit as it starts (seen on
 * Linux: started under `1024:4096`, it runs with `4096:4096`), so the server
 * does not call `setrlimit` itself, which would need `--allow-ffi` (libc) or
 * `--allow-run` (`prlimit --pid`). Nor can it read `/proc/self/limits`: Deno
 * reads `/proc` only with `--allow-all`. So it measures: it opens its data
 * folder as many times as the connections need, closes them all at once,
 * and refuses to start when the limit stopped it first. Only this start-up
 * probe can meet the limit, in a process that is about to exit anyway.
 *
 * @example
 * ```ts
 * import { checkDescriptorLimit, descriptorsNeeded } from "./fd_budget.ts";
 *
 * console.log(descriptorsNeeded(256)); // 1152
 * checkDescriptorLimit(4, () => 1000); // room enough: returns
 * ```
 *
 * @module
 */

import { StartupError } from "../errors.ts";

/** Descriptors one connection may hold at worst (a secure one, uploading). */
export const DESCRIPTORS_PER_CONNECTION = 4;

/** Descriptors kept for everything but the connections (see the module table). */
export const RESERVED_DESCRIPTORS = 128;

/** Descriptors the runtime holds before the server opens anything (about 25 seen). */
export const RUNTIME_DESCRIPTORS = 32;

/** The limit on open files is too low for `--max-connections`. */
export class DescriptorLimitError extends StartupError {
  /**
   * Creates the error.
   *
   * @param message `Cannot start: ...`, one line, with what to change.
   */
  constructor(message: string) {
    super(message);
    this.name = "DescriptorLimitError";
  }
}

/** Descriptors a server with `maxConnections` slots may need. */
export function descriptorsNeeded(maxConnections: number): number {
  return maxConnections * DESCRIPTORS_PER_CONNECTION + RESERVED_DESCRIPTORS;
}

/**
 * Opens `dir` up to `count` times (read-only), closes every handle, and
 * returns how many opened: `count` unless the limit on open files came first.
 *
 * @throws the error of the first open when it is not the limit (no such folder).
 */
export function probeDescriptors(dir: string, count: number): number {
  const handles: Deno.FsFile[] = [];
  try {
    while (handles.length < count) handles.push(Deno.openSync(dir, { read: true }));
  } catch (error) {
    if (handles.length === 0 || !/\(os error 24\)|too many open files/i.test(String(error))) {
      throw error;
    }
  } finally {
    for (const handle of handles) handle.close();
  }
  return handles.length;
}

/**
 * Refuses to start when fewer descriptors than `maxConnections` need can be
 * opened beyond the runtime's own; `probe(count)` says how many of `count`
 * could (default: {@linkcode probeDescriptors} on the working directory).
 *
 * @throws {DescriptorLimitError} naming the need and what to change.
 */
export function checkDescriptorLimit(
  maxConnections: number,
  probe: (count: number) => number = (count) => probeDescriptors(".", count),
): void {
  const needed = descriptorsNeeded(maxConnections);
  const opened = probe(needed - RUNTIME_DESCRIPTORS);
  if (opened >= needed - RUNTIME_DESCRIPTORS) return;
  const fits = Math.floor(
    (opened + RUNTIME_DESCRIPTORS - RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_CONNECTION,
  );
  const lower = fits >= 1 ? `, or lower --max-connections to ${fits}` : "";
  throw new DescriptorLimitError(
    `Cannot start: ${maxConnections} connections need up to ${needed} open files, and this ` +
      `process could open only ${opened} more; raise its limit to ${needed} (ulimit -n, or ` +
      `LimitNOFILE= for a systemd service)${lower}`,
  );
}
