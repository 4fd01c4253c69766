/**
 * A TCP connection whose every read and write has a deadline: a peer that
 * goes quiet, or stops reading, is disconnected instead of holding a
 * connection slot forever.
 *
 * @module
 */

import type { ByteSource } from "../protocol/mod.ts";

/**
 * Wraps a `Deno.Conn`: each {@linkcode TimedConn.read} and
 * {@linkcode TimedConn.write} arms a timer that closes the connection when
 * it fires, so the pending call fails. Closing is idempotent.
 */
export class TimedConn implements ByteSource {
  #conn: Deno.Conn;
  #timeoutMs: number;
  #closed = false;
  #timedOut = false;

  /**
   * @param conn The connection; this object owns it from now on.
   * @param timeoutMs How long one read or write may wait.
   */
  constructor(conn: Deno.Conn, timeoutMs: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
  }

  /** Whether a read or write timed out (and so closed the connection). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Reads up to `p.length` bytes; `null` at the end of the stream. */
  read(p: Uint8Array): Promise<number | null> {
    return this.#timed(() => this.#conn.read(p));
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      written += await this.#timed(() => this.#conn.write(bytes.subarray(written)));
    }
  }

  /** Closes the connection; does nothing if it is closed already. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }

  async #timed<T>(operation: () => Promise<T>): Promise<T> {
    const timer = setTimeout(() => {
      this.#timedOut = true;
      this.close();
    }, this.#timeoutMs);
    try {
      return await operation();
    } finally {
      clearTimeout(timer);
    }
  }
}
