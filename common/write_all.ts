/**
 * Writing a whole buffer to a sink that may accept only part of it per call
 * (a socket, a file, a test double). Knows nothing of sockets.
 *
 * @module
 */

/** Anything with a Deno-style `write`: takes part of `p`, resolves to the count taken. */
export interface Writer {
  /** Writes up to `p.length` bytes of `p`; resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
}

/**
 * Writes all of `bytes` to `writer`, calling `write` until nothing is left.
 *
 * @example
 * ```ts
 * import { writeAll } from "./write_all.ts";
 *
 * const parts: Uint8Array[] = [];
 * const writer = { write: (p: Uint8Array) => (parts.push(p.slice(0, 2)), Promise.resolve(Math.min(2, p.length))) };
 * await writeAll(writer, new Uint8Array([1, 2, 3, 4, 5]));
 * // parts: [1, 2], [3, 4], [5]
 * ```
 */
export async function writeAll(writer: Writer, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await writer.write(bytes.subarray(written));
}

/** Anything with a Deno-style `writeSync` (a file, stdout, stderr). */
export interface SyncWriter {
  /** Writes up to `p.length` bytes of `p`; returns the count written. */
  writeSync(p: Uint8Array): number;
}

/**
 * Writes all of `bytes` to `writer` synchronously, calling `writeSync` until
 * nothing is left: the blocking twin of {@linkcode writeAll}, for a log file
 * or a terminal written between two awaits.
 *
 * @example
 * ```ts
 * import { writeAllSync } from "./write_all.ts";
 *
 * writeAllSync(Deno.stderr, new TextEncoder().encode("done\n"));
 * ```
 */
export function writeAllSync(writer: SyncWriter, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += writer.writeSync(bytes.subarray(written));
}
