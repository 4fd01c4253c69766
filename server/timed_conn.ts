/**
 * A TCP connection whose every read and write has a deadline: a peer that
 * goes quiet, or stops reading, is disconnected instead of holding a
 * connection slot forever. A request as a whole has a deadline too, so a
 * peer trickling a byte every few seconds (slow loris) is cut off as well.
 *
 * @module
 */

import type { ByteSource } from "../protocol/mod.ts";

/** Every this many bytes of a request restart its deadline (a minimum rate). */
export const REQUEST_PROGRESS_BYTES = 1024 * 1024;

/**
 * Wraps a `Deno.Conn`: each {@linkcode TimedConn.read} and
 * {@linkcode TimedConn.write} arms a timer that closes the connection when
 * it fires, so the pending call fails. Closing is idempotent.
 */
export class TimedConn implements ByteSource {
  #conn: Deno.Conn;
  #timeoutMs: number;
  #requestTimeoutMs: number | undefined;
  #requestTimer: ReturnType<typeof setTimeout> | undefined;
  #requestPending = false;
  #requestBytes = 0;
  #closed = false;
  #timedOut = false;
  /** Called when a deadline passes, just before the connection is closed. */
  onTimeout: (() => void) | undefined;
  #requestTooSlow = false;

  /**
   * Wraps `conn`.
   *
   * @param conn The connection; this object owns it from now on.
   * @param timeoutMs How long one read or write may wait.
   * @param requestTimeoutMs How long a whole request may take to arrive, from
   * its first byte; each {@linkcode REQUEST_PROGRESS_BYTES} received restart
   * it. No limit when omitted.
   */
  constructor(conn: Deno.Conn, timeoutMs: number, requestTimeoutMs?: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    this.#requestTimeoutMs = requestTimeoutMs;
  }

  /** Whether a request took too long to arrive (and so closed the connection). */
  get requestTooSlow(): boolean {
    return this.#requestTooSlow;
  }

  /**
   * Whether a request is awaited and not one byte of it has been read:
   * the connection is idle.
   */
  get awaitingRequest(): boolean {
    return this.#requestPending && this.#requestTimer === undefined;
  }

  /**
   * Starts waiting for a request: its deadline starts with the next byte
   * read. Ends the previous request, if any.
   */
  beginRequest(): void {
    this.endRequest();
    this.#requestPending = true;
  }

  /** Ends the current request: its deadline no longer applies. */
  endRequest(): void {
    clearTimeout(this.#requestTimer);
    this.#requestTimer = undefined;
    this.#requestPending = false;
    this.#requestBytes = 0;
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
  async read(p: Uint8Array): Promise<number | null> {
    const n = await this.#timed(() => this.#conn.read(p));
    if (n !== null && n > 0 && this.#requestPending) this.#progress(n);
    return n;
  }

  /** Arms the request deadline on its first byte, re-arms it every 1 MiB. */
  #progress(n: number): void {
    if (this.#requestTimeoutMs === undefined) return;
    this.#requestBytes += n;
    if (this.#requestTimer !== undefined && this.#requestBytes < REQUEST_PROGRESS_BYTES) return;
    clearTimeout(this.#requestTimer);
    this.#requestBytes = 0;
    this.#requestTimer = setTimeout(() => {
      this.#requestTimer = undefined;
      this.#requestTooSlow = true;
      this.#timedOut = true;
      this.close();
    }, this.#requestTimeoutMs);
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
    this.endRequest();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }

  async #timed<T>(operation: () => Promise<T>): Promise<T> {
    const timer = setTimeout(() => {
      this.#timedOut = true;
      this.onTimeout?.();
      this.close();
    }, this.#timeoutMs);
    try {
      return await operation();
    } finally {
      clearTimeout(timer);
    }
  }
}
